"""libvmmk for Python: move VMware VMs to OpenStack.

A thin layer over the SWIG module (``vmmk.vmmk_c`` / ``vmmk._vmmk``, which
are package-internal).  It keeps libvmmk's names and rules and makes them
Pythonic:

* a failing call raises :class:`vmmk.Error` (``.code`` is the ``VMMK_E*``
  value, ``.message`` names the object and the cause) or one of its
  subclasses, instead of returning a negative code;
* documents go in and come out as dicts and lists (the JSON forms of
  docs/vm-model.md, docs/flavor-matching.md, docs/network-mapping.md,
  docs/image-properties.md); a JSON ``str`` is accepted wherever a dict is;
* every C object made on the way is freed before the call returns, also
  when it raises; the two that live longer, a disk :class:`Source` (which
  may run nbdkit) and a :class:`Copier`, are context managers (and are
  freed by the garbage collector if not closed);
* log messages and copy progress go to Python callables
  (:func:`set_log_handler`, ``progress=`` of :func:`copy`);
* a vSphere session, :class:`VSphere`, is a context manager that logs out
  when it is closed;
* an OpenStack connection, :class:`Cloud`, is a context manager whose
  calls return the services' own objects as dicts.

Secrets are masked by the library in every message, so they never reach
``str()`` or ``repr()`` of an exception nor a log handler.

See docs/python.md for a tour.
"""

import atexit as _atexit
import contextlib as _contextlib
import json as _json
import os as _os
import threading as _threading
from collections.abc import Mapping as _Mapping

from . import vmmk_c as _c

__all__ = [
    "__version__", "Error", "InvalidArgument", "ParseError", "NotFound",
    "NoFlavorFits", "NetworkUnmapped", "Unsupported", "Cancelled", "AuthError", "TLSError",
    "Conflict", "AlreadyExists", "QuotaExceeded", "NetworkError",
    "ERROR_NAMES",
    "strerror", "sanitize_name", "redact", "normalize_mac",
    "register_secret", "unregister_secret",
    "vm_from_json", "vm_from_file", "load_vm", "vm_to_json",
    "match_flavor", "match_flavor_detail", "map_networks", "image_properties",
    "set_log_level", "get_log_level", "log_level_name", "set_log_handler",
    "log_to_logging",
    "Source", "Copier", "copy", "checksum",
    "VSphere", "vsphere_thumbprint",
    "Cloud", "find_device",
]

#: Library version, "MAJOR.MINOR.PATCH" (vmmk_version()).
__version__ = _c.vmmk_version()

# ---------------------------------------------------------------------------
# Constants

#: Error codes (the ``VMMK_E*`` values), also exported as vmmk.EINVAL etc.
ERROR_NAMES = {}
for _name in ("OK", "EINVAL", "ENOMEM", "EIO", "ENOTFOUND", "EPARSE", "ENOFIT",
              "EUNMAPPED", "EAUTH", "ETLS", "EHTTP", "EREMOTE", "ETIMEOUT",
              "ECANCELED", "EEXISTS", "EUNSUPPORTED", "ESTATE", "EPROCESS",
              "ECONFLICT", "ENETWORK", "EQUOTA"):
    _code = getattr(_c, "VMMK_" + _name)
    globals()[_name] = _code
    ERROR_NAMES[_code] = _name
    __all__.append(_name)

#: Log levels (messages above the level set with set_log_level are dropped).
for _name in ("LOG_ERROR", "LOG_WARN", "LOG_INFO", "LOG_DEBUG", "LOG_TRACE",
              "NAME_MAX", "NAME_DEFAULT_MAX"):
    globals()[_name] = getattr(_c, "VMMK_" + _name)
    __all__.append(_name)
del _name, _code

_INT64_MAX = 2 ** 63 - 1
_INT32_MAX = 2 ** 31 - 1
_UINT32_MAX = 2 ** 32 - 1

# ---------------------------------------------------------------------------
# Errors


class Error(Exception):
    """A libvmmk call failed.

    Attributes (from vmmk_error_last()):
        code: the negative ``VMMK_E*`` code (e.g. ``vmmk.EINVAL``).
        message: names the object and the cause, e.g.
            ``"disks[0].capacity_bytes: expected integer, got string"``.
        fault: remote fault or error type (``"InvalidLogin"``), or None.
        detail: remote detail (fault text, HTTP body), or None.
        http_status: HTTP status of the failing request, or 0.
        errno: errno of the failing system call, or 0.

    ``str(e)`` is the message; secrets are masked in every field.
    """

    def __init__(self, code, message, fault=None, detail=None, http_status=0, errno=0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fault = fault
        self.detail = detail
        self.http_status = http_status
        self.errno = errno

    @property
    def name(self):
        """The code's symbolic name, e.g. ``"EINVAL"``."""
        return ERROR_NAMES.get(self.code, str(self.code))

    def __str__(self):
        return self.message

    def __repr__(self):
        extra = ""
        if self.fault:
            extra += ", fault=%r" % (self.fault,)
        if self.http_status:
            extra += ", http_status=%d" % self.http_status
        if self.errno:
            extra += ", errno=%d" % self.errno
        return "vmmk.%s(%s, %r%s)" % (type(self).__name__, self.name, self.message, extra)

    def __reduce__(self):
        return (_rebuild_error, (type(self), self.code, self.message, self.fault,
                                 self.detail, self.http_status, self.errno, self._extra()))

    def _extra(self):
        return {}


def _rebuild_error(cls, code, message, fault, detail, http_status, errno, extra):
    return cls(code, message, fault, detail, http_status, errno, **extra)


class InvalidArgument(Error, ValueError):
    """``VMMK_EINVAL``: an invalid argument or input document."""


class ParseError(Error, ValueError):
    """``VMMK_EPARSE``: a document is not well formed (message has line/column)."""


class NotFound(Error, LookupError):
    """``VMMK_ENOTFOUND``: the named object does not exist."""


class NetworkUnmapped(Error):
    """``VMMK_EUNMAPPED``: NICs match no network mapping (all named in the message)."""


class Unsupported(Error):
    """``VMMK_EUNSUPPORTED``: the peer, document version or build does not support this."""


class Cancelled(Error):
    """``VMMK_ECANCELED``: the operation was cancelled (:meth:`Copier.cancel`)."""


class AuthError(Error):
    """``VMMK_EAUTH``: the server refused the credentials (``.fault`` is
    ``"InvalidLogin"`` for a wrong user or password) or the session."""


class TLSError(Error):
    """``VMMK_ETLS``: the server's certificate is not trusted (unknown CA,
    thumbprint mismatch) or TLS failed."""


class Conflict(Error):
    """``VMMK_ECONFLICT``: conflicting or ambiguous input, e.g. a name that
    several objects have (the message lists their ids), or a 409 from a
    service."""


class AlreadyExists(Error):
    """``VMMK_EEXISTS``: the object already exists (a flavor name, a MAC)."""


class QuotaExceeded(Error):
    """``VMMK_EQUOTA``: a quota or limit of the remote service would be
    exceeded; the message carries the service's text and request id."""


class NetworkError(Error):
    """``VMMK_ENETWORK``: the peer is unreachable or the connection was lost
    (the message names the URL)."""


class NoFlavorFits(Error):
    """``VMMK_ENOFIT``: no flavor meets every requirement.

    The message is the reason (``"no flavor has >= 100 GiB disk; ..."``).

    Attributes:
        proposal: dict of a flavor to create that would fit (Nova form), or None.
        choice: the full match dict (see :func:`match_flavor_detail`).
    """

    def __init__(self, code, message, fault=None, detail=None, http_status=0, errno=0,
                 proposal=None, choice=None):
        super().__init__(code, message, fault, detail, http_status, errno)
        self.proposal = proposal
        self.choice = choice

    def _extra(self):
        return {"proposal": self.proposal, "choice": self.choice}


_ERROR_CLASSES = {
    _c.VMMK_EINVAL: InvalidArgument,
    _c.VMMK_EPARSE: ParseError,
    _c.VMMK_ENOTFOUND: NotFound,
    _c.VMMK_ENOFIT: NoFlavorFits,
    _c.VMMK_EUNMAPPED: NetworkUnmapped,
    _c.VMMK_EUNSUPPORTED: Unsupported,
    _c.VMMK_ECANCELED: Cancelled,
    _c.VMMK_EAUTH: AuthError,
    _c.VMMK_ETLS: TLSError,
    _c.VMMK_ECONFLICT: Conflict,
    _c.VMMK_EEXISTS: AlreadyExists,
    _c.VMMK_EQUOTA: QuotaExceeded,
    _c.VMMK_ENETWORK: NetworkError,
}


def strerror(code):
    """Short text for an error code: ``strerror(vmmk.ENOFIT) == "no flavor fits"``."""
    return _c.vmmk_strerror(int(code))


def _last_error(rc):
    """The exception for a call that returned ``rc`` (< 0).

    Fields come from vmmk_error_last() when it recorded this very code;
    callers clear the error before each call, so a stale one is not taken.
    """
    e = _c.vmmk_error_last()
    if e.code == rc:
        args = (rc, e.message or strerror(rc), e.fault, e.detail, e.http_status, e.sys_errno)
    else:   # the function failed without recording an error
        args = (rc, strerror(rc))
    return _ERROR_CLASSES.get(rc, Error)(*args)


def _check(rc):
    if rc < 0:
        raise _last_error(rc)
    return rc


def _invalid(message):
    """An InvalidArgument raised by this layer (not by the library)."""
    return InvalidArgument(_c.VMMK_EINVAL, message)


# ---------------------------------------------------------------------------
# C object ownership
#
# Each C object is registered on an ExitStack as soon as it exists, so that
# it is freed on every path out of the function.  The count of live objects
# is kept for the tests (a leak in this layer shows up as a non-zero count).

_live_lock = _threading.Lock()
_live = 0


def _own(stack, ptr, free):
    if ptr is None:
        return None
    _track()
    stack.callback(_release, ptr, free)
    return ptr


def _track():
    """Count one more live C object (freed later with _release)."""
    global _live
    with _live_lock:
        _live += 1


def _release(ptr, free):
    global _live
    free(ptr)
    with _live_lock:
        _live -= 1


def _live_objects():
    """Number of C objects this layer holds right now (0 between calls)."""
    return _live


# ---------------------------------------------------------------------------
# Input conversion


def _text(value, what):
    """A str for a ``const char *`` argument (a NUL would cut it short)."""
    if not isinstance(value, str):
        raise TypeError("%s: expected str, got %s" % (what, type(value).__name__))
    if "\0" in value:
        raise _invalid("%s: contains a NUL character" % what)
    return value


def _document(value, what):
    """JSON text for a document given as a dict, or as JSON text already."""
    if isinstance(value, str):
        return value
    if isinstance(value, _Mapping):
        return _json.dumps(value, allow_nan=False)
    raise TypeError("%s: expected a dict or a JSON str, got %s" % (what, type(value).__name__))


def _int(value, what, default=None, lo=0, hi=_INT64_MAX):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s: expected int, got %s" % (what, type(value).__name__))
    if value < lo or value > hi:
        raise _invalid("%s: %d is out of range (%d..%d)" % (what, value, lo, hi))
    return value


def _call_str(fn, *args):
    """Call a ``int f(char **out, ...)`` function; return the string."""
    _c.vmmk_error_clear()
    rc, s = fn(*args)
    _check(rc)
    return s


def _parse(stack, fn, free, text):
    """Call a ``int f(T **out, json, len)`` parser; the result is owned by stack."""
    _c.vmmk_error_clear()
    rc, ptr = fn(text)
    _own(stack, ptr, free)
    _check(rc)
    return ptr


def _parse_vm(stack, vm):
    return _parse(stack, _c.vmmk_vm_from_json, _c.vmmk_vm_free, _document(vm, "vm"))


def _vm_dict(ptr):
    return _json.loads(_call_str(_c.vmmk_vm_to_json, ptr, 0))


# ---------------------------------------------------------------------------
# Names, secrets, MACs


def sanitize_name(name, max_len=0):
    """Make ``name`` safe as an OpenStack resource name (vmmk_name_sanitize()).

    Diacritics are transliterated, runs of other characters become ``-``,
    the ends are trimmed and the result is cut to ``max_len`` bytes (0 means
    ``vmmk.NAME_DEFAULT_MAX``, at most ``vmmk.NAME_MAX``).  Never empty::

        >>> vmmk.sanitize_name("web-01 (prod)")
        'web-01-prod'
    """
    max_len = _int(max_len, "max_len", 0)
    return _call_str(_c.vmmk_name_sanitize, _text(name, "name"), max_len)


def redact(text):
    """``text`` with secrets replaced by ``***`` (vmmk_redact()): registered
    secrets, auth headers and cookies, password/secret/token JSON members,
    ``<password>`` elements and URL passwords."""
    return _call_str(_c.vmmk_redact, _text(text, "text"))


def register_secret(secret):
    """Mask ``secret`` in every log line and error message from now on
    (strings shorter than 4 characters are ignored)."""
    _c.vmmk_error_clear()
    _check(_c.vmmk_secret_register(_text(secret, "secret")))


def unregister_secret(secret):
    """Forget a secret given to :func:`register_secret` (no-op when unknown)."""
    _c.vmmk_secret_unregister(_text(secret, "secret"))


def normalize_mac(mac):
    """Lowercase colon form of a MAC (``00-50-56-AA-BB-CC``, ``0050.56aa.bbcc``
    or ``00:50:56:aa:bb:cc``).  Raises :class:`InvalidArgument` when ``mac``
    is not one."""
    return _call_str(_c.vmmk_mac_normalize, _text(mac, "mac"))


# ---------------------------------------------------------------------------
# The VM model


def vm_from_json(text):
    """Parse and validate a VM model document (JSON text, docs/vm-model.md).

    Returns the normalised model as a dict: MACs lowercased, optional keys
    present (null when unset), ``"version": 1``.  A missing, mistyped or
    out-of-range field raises :class:`InvalidArgument` naming it
    (``"disks[0].capacity_bytes: expected integer, got string"``); text that
    is not JSON raises :class:`ParseError` with line and column.
    """
    if not isinstance(text, str):
        raise TypeError("text: expected str, got %s" % type(text).__name__)
    return load_vm(text)


def load_vm(vm):
    """Validate a VM model given as a dict (or JSON str) and return it
    normalised, like :func:`vm_from_json`."""
    with _contextlib.ExitStack() as stack:
        return _vm_dict(_parse_vm(stack, vm))


def vm_from_file(path):
    """Read a VM model document from ``path`` (``"-"`` = standard input);
    errors are prefixed with the path."""
    with _contextlib.ExitStack() as stack:
        _c.vmmk_error_clear()
        rc, ptr = _c.vmmk_vm_from_file(_text(_os.fsdecode(path), "path"))
        _own(stack, ptr, _c.vmmk_vm_free)
        _check(rc)
        return _vm_dict(ptr)


def vm_to_json(vm, pretty=False):
    """The normalised VM model document as JSON text."""
    with _contextlib.ExitStack() as stack:
        ptr = _parse_vm(stack, vm)
        return _call_str(_c.vmmk_vm_to_json, ptr, _c.VMMK_JSON_PRETTY if pretty else 0)


# ---------------------------------------------------------------------------
# Flavors


def match_flavor(flavors, vcpus=None, ram_mib=None, disk_gib=None, boot_from_volume=False,
                 vm=None, ephemeral_gib=0, swap_mib=0, name_filter=None, extra_specs=None,
                 include_private=False):
    """Choose the flavor that fits with the least waste (docs/flavor-matching.md).

    Args:
        flavors: Nova's ``{"flavors": [...]}`` (GET /flavors/detail), a list
            of flavor dicts, or the JSON text of either.
        vcpus, ram_mib, disk_gib: what the VM needs; ``disk_gib`` is the root
            disk (ignored with ``boot_from_volume``).
        boot_from_volume: the root disk is a Cinder volume, so the flavor's
            disk does not matter.
        vm: a VM model dict (or JSON str); fills vcpus, ram_mib and disk_gib
            (boot disk = disks[0], rounded up to whole GiB).  Explicit
            values win over the VM's.
        ephemeral_gib, swap_mib: minimum ephemeral disk and swap (0 = none).
        name_filter: fnmatch glob on the flavor name (``"m1.*"``), or None.
        extra_specs: dict of extra specs a flavor must have, with these
            exact string values, or None.
        include_private: consider non-public flavors too.

    Returns:
        The chosen flavor as a dict, exactly as given in ``flavors``.

    Raises:
        NoFlavorFits: nothing fits; the message says why (``"no flavor has
            >= 100 GiB disk; ..."``) and ``.proposal`` is a flavor to create.
        InvalidArgument, ParseError: bad flavors, VM or requirements.
    """
    choice, nofit = _match(flavors, vcpus, ram_mib, disk_gib, boot_from_volume, vm,
                           ephemeral_gib, swap_mib, name_filter, extra_specs, include_private)
    if nofit is not None:
        raise nofit
    return choice["flavor"]


def match_flavor_detail(flavors, vcpus=None, ram_mib=None, disk_gib=None,
                        boot_from_volume=False, vm=None, ephemeral_gib=0, swap_mib=0,
                        name_filter=None, extra_specs=None, include_private=False):
    """Match like :func:`match_flavor` and return the whole outcome::

        {"flavor": {...} or None, "reason": "why it was chosen / why none fits",
         "waste": 0.0, "candidates": 3, "proposal": {...} or None}

    When nothing fits this returns rather than raises: ``flavor`` is None
    and ``proposal`` is a flavor to create.  Other errors raise as in
    :func:`match_flavor`.
    """
    return _match(flavors, vcpus, ram_mib, disk_gib, boot_from_volume, vm, ephemeral_gib,
                  swap_mib, name_filter, extra_specs, include_private)[0]


def _match(flavors, vcpus, ram_mib, disk_gib, boot_from_volume, vm, ephemeral_gib,
           swap_mib, name_filter, extra_specs, include_private):
    """(choice dict, NoFlavorFits or None)."""
    vcpus = _int(vcpus, "vcpus", -1, hi=_INT32_MAX)      # -1: not given
    ram_mib = _int(ram_mib, "ram_mib", -1)
    disk_gib = _int(disk_gib, "disk_gib", -1)
    ephemeral_gib = _int(ephemeral_gib, "ephemeral_gib", 0)
    swap_mib = _int(swap_mib, "swap_mib", 0)
    if name_filter is not None:
        name_filter = _text(name_filter, "name_filter")
    specs_json = None
    if extra_specs:
        if not isinstance(extra_specs, _Mapping):
            raise TypeError("extra_specs: expected a dict, got %s" % type(extra_specs).__name__)
        for k, v in extra_specs.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("extra_specs: keys and values must be str (%r: %r)" % (k, v))
            if "\0" in k or "\0" in v:
                raise _invalid("extra_specs: %r contains a NUL character" % (k,))
        specs_json = _json.dumps(dict(extra_specs))
    if isinstance(flavors, (list, tuple)):
        flavors = {"flavors": list(flavors)}

    with _contextlib.ExitStack() as stack:
        flist = _parse(stack, _c.vmmk_flavor_list_from_json, _c.vmmk_flavor_list_free,
                       _document(flavors, "flavors"))
        vmp = _parse_vm(stack, vm) if vm is not None else None
        _c.vmmk_error_clear()
        rc, ptr = _c.vmmkpy_flavor_match(flist, vmp, vcpus, ram_mib, disk_gib,
                                         int(bool(boot_from_volume)), ephemeral_gib, swap_mib,
                                         name_filter, specs_json, int(bool(include_private)))
        _own(stack, ptr, _c.vmmk_flavor_choice_free)
        if rc < 0 and (rc != _c.VMMK_ENOFIT or ptr is None):
            if _c.vmmk_error_last().code != rc and specs_json is not None:
                # vmmkpy_flavor_match refused the extra specs without a message.
                raise _invalid("extra_specs: not a JSON object of strings")
            raise _last_error(rc)
        nofit = _last_error(rc) if rc < 0 else None   # before the next call
        choice = _json.loads(_call_str(_c.vmmk_flavor_choice_to_json, ptr, 0))
    if nofit is not None:
        nofit.proposal = choice.get("proposal")
        nofit.choice = choice
    return choice, nofit


# ---------------------------------------------------------------------------
# Networks


def map_networks(vm, mapping):
    """The Neutron ports for a VM's NICs (docs/network-mapping.md).

    Args:
        vm: a VM model dict (or JSON str).
        mapping: the mapping document, e.g.
            ``{"map": {"VM Network": "provider-net"}, "fixed_ips": True}``
            (a dict or JSON str).  A key matches a NIC's portgroup_key
            first, then its network name; ``"default"`` takes the rest.

    Returns:
        A list with one dict per NIC, in NIC order: ``name``, ``mac``,
        ``network``, ``subnet``, ``fixed_ips`` (``[{"ip_address",
        "subnet"}]``), ``security_groups``, ``tags``, ``nic_key``,
        ``nic_label``.

    Raises:
        NetworkUnmapped: NICs match nothing and there is no default (the
            message names all of them).
        InvalidArgument: a bad VM or mapping (unknown keys are errors).
    """
    with _contextlib.ExitStack() as stack:
        vmp = _parse_vm(stack, vm)
        nmap = _parse(stack, _c.vmmk_netmap_from_json, _c.vmmk_netmap_free,
                      _document(mapping, "mapping"))
        _c.vmmk_error_clear()
        rc, plan = _c.vmmk_netmap_apply(nmap, vmp)
        _own(stack, plan, _c.vmmk_port_plan_free)
        _check(rc)
        return _json.loads(_call_str(_c.vmmk_port_plan_to_json, plan, 0))["ports"]


# ---------------------------------------------------------------------------
# Image properties


def image_properties(vm, disk_bus="auto", vif_model="auto", converted=True,
                     qemu_guest_agent=True):
    """Glance image / Cinder volume-image properties the migrated guest needs
    (docs/image-properties.md), as a dict of str to str.

    Args:
        vm: a VM model dict (or JSON str).
        disk_bus: ``"auto"`` (from the source controller), ``"virtio"``,
            ``"scsi"``, ``"sata"`` or ``"ide"``.
        vif_model: ``"auto"``, ``"virtio"``, ``"e1000"``, ``"e1000e"`` or
            ``"vmxnet3"``.
        converted: the guest gets virtio drivers (virt-v2v).
        qemu_guest_agent: set ``hw_qemu_guest_agent=yes``.

    An EFI VM with secure boot gives for example ``hw_firmware_type=uefi``,
    ``hw_machine_type=q35`` and ``os_secure_boot=required``.
    """
    with _contextlib.ExitStack() as stack:
        vmp = _parse_vm(stack, vm)
        _c.vmmk_error_clear()
        rc, props = _c.vmmkpy_image_properties(vmp, _text(disk_bus, "disk_bus"),
                                               _text(vif_model, "vif_model"),
                                               int(bool(converted)), int(bool(qemu_guest_agent)))
        _own(stack, props, _c.vmmk_properties_free)
        _check(rc)
        return _json.loads(_call_str(_c.vmmk_properties_to_json, props, 0))


# ---------------------------------------------------------------------------
# Logging


def set_log_level(level):
    """Drop messages above ``level`` (``vmmk.LOG_ERROR`` .. ``vmmk.LOG_TRACE``;
    the default is ``LOG_WARN``).  Out-of-range values are clamped."""
    _c.vmmk_log_set_level(_int(level, "level", lo=-_INT32_MAX, hi=_INT32_MAX))


def get_log_level():
    """The current log level."""
    return _c.vmmk_log_get_level()


def log_level_name(level):
    """``"error"``, ``"warn"``, ``"info"``, ``"debug"`` or ``"trace"``."""
    return _c.vmmk_log_level_name(int(level))


_unhook_registered = False


def set_log_handler(handler):
    """Send libvmmk's log messages to ``handler(level, message)``.

    ``level`` is one of the ``vmmk.LOG_*`` values and ``message`` is already
    redacted.  The handler may be called from any thread the library uses
    (the GIL is taken for it) and must not raise: an exception is reported
    through ``sys.unraisablehook`` and the message dropped.  ``None``
    restores the default sink (``vmmk: LEVEL: message`` on stderr).

    Returns the previous handler, or None.
    """
    global _unhook_registered
    if handler is not None and not callable(handler):
        raise TypeError("handler: expected a callable or None, got %s" % type(handler).__name__)
    previous = _c.vmmkpy_set_log_handler(handler)
    if handler is not None and not _unhook_registered:
        # Unhook before interpreter teardown, when a call into Python from C
        # would no longer be safe.
        _atexit.register(_c.vmmkpy_set_log_handler, None)
        _unhook_registered = True
    return previous


def log_to_logging(logger=None):
    """Route libvmmk's log messages to the :mod:`logging` module (logger
    ``"vmmk"`` by default; ``LOG_TRACE`` maps to level 5).  Returns the
    previous handler, as :func:`set_log_handler` does."""
    import logging
    log = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger or "vmmk")
    levels = {_c.VMMK_LOG_ERROR: logging.ERROR, _c.VMMK_LOG_WARN: logging.WARNING,
              _c.VMMK_LOG_INFO: logging.INFO, _c.VMMK_LOG_DEBUG: logging.DEBUG,
              _c.VMMK_LOG_TRACE: 5}

    def handler(level, message):
        log.log(levels.get(level, logging.DEBUG), "%s", message)

    return set_log_handler(handler)


# ---------------------------------------------------------------------------
# Disk copier: in its own module (vmmk/_copier.py), which uses the helpers
# above, hence imported last.

from ._copier import Copier, Source, checksum, copy  # noqa: E402

# vSphere: vmmk/_vsphere.py, which uses the helpers above and Source.
from ._vsphere import VSphere, vsphere_thumbprint  # noqa: E402

# OpenStack: vmmk/_cloud.py, which uses the helpers above and Source.
from ._cloud import Cloud, find_device  # noqa: E402

for _o in (Source, Copier, copy, checksum, VSphere, vsphere_thumbprint, Cloud, find_device):
    _o.__module__ = __name__     # documented and shown as vmmk.Source, not vmmk._copier.Source
del _o
