"""The vSphere client for Python (vsphere.h, docs/vsphere.md): VSphere and
vsphere_thumbprint().  Package-internal module: its names are exported by
``vmmk`` (``vmmk.VSphere``, ``vmmk.vsphere_thumbprint``).

It is imported at the end of vmmk/__init__.py, after the copier, whose
Source a session makes for a disk (:meth:`VSphere.disk_source`).
"""

import contextlib as _contextlib
import json as _json
import os as _os
import stat as _stat
import warnings as _warnings
import weakref as _weakref

from . import vmmk_c as _c
from . import (_INT32_MAX, _UINT32_MAX, Error, InvalidArgument, NotFound, _call_str, _check,
               _int, _invalid, _last_error, _release, _text, _vm_dict, redact)
from ._copier import Source, _HandleOwner, _SharedHandle, _opt_text, _path

__all__ = ["VSphere", "vsphere_thumbprint"]

# vmmk_vsphere_power_how, as power_off()/power_on() return it.
_POWER_HOW = {
    _c.VMMK_VSPHERE_POWER_ALREADY: "already",
    _c.VMMK_VSPHERE_POWER_TASK: "task",
    _c.VMMK_VSPHERE_POWER_GUEST: "guest",
    _c.VMMK_VSPHERE_POWER_FALLBACK: "fallback",
}

_ABOUT_KEYS = ("api_type", "api_version", "version", "full_name", "instance_uuid")


def vsphere_thumbprint(server, sha256=False):
    """The thumbprint of ``server``'s certificate, ``"AA:BB:..."`` (SHA-1,
    or SHA-256 with ``sha256=True``), fetched **without** trusting it
    (vmmk_vsphere_thumbprint()): show it to the user to verify, then pass
    it as ``thumbprint=`` to :class:`VSphere`.  VDDK (and
    :meth:`vmmk.Source.vddk`) take the SHA-1 form.  The GIL is released
    meanwhile.

    Raises :class:`InvalidArgument` for a bad server string, or
    :class:`vmmk.Error` with ``ENETWORK``/``ETIMEOUT``/``ETLS``.
    """
    return _call_str(_c.vmmk_vsphere_thumbprint, _text(server, "server"), bool(sha256))


class _SessionState(_SharedHandle):
    """The C session of a VSphere, freed (logged out) once closed and no
    longer in use: by a call running in another thread, or by a Source
    made with disk_source(), which reads with the session's cookie."""

    what = "vmmk.VSphere"

    def _free(self, ptr):
        if ptr is not None:
            # Logs out (best effort; the GIL is released meanwhile).
            _release(ptr, _c.vmmk_vsphere_free)


def _password_fd(path):
    """Open ``path`` for the C side to read the password from; warn as the
    CLI does when other users can read it."""
    try:
        fd = _os.open(path, _os.O_RDONLY | _os.O_CLOEXEC)
    except OSError as e:
        cls = NotFound if isinstance(e, FileNotFoundError) else Error
        code = _c.VMMK_ENOTFOUND if cls is NotFound else _c.VMMK_EIO
        raise cls(code, "password_file %s: %s" % (path, e.strerror), errno=e.errno) from None
    try:
        st = _os.fstat(fd)
    except OSError:
        st = None
    if st is not None and _stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
        _warnings.warn("password file %s is readable by other users (chmod 600 it)" % path,
                       stacklevel=3)
    return fd


class VSphere(_HandleOwner):
    """A logged-in session with one vCenter or ESXi (vmmk_vsphere).

    ``VSphere(server, user, password=None, password_file=None,
    thumbprint=None, cacert=None, insecure=False, timeout=0)`` connects,
    reads the service content and logs in (vmmk_vsphere_connect()).

    Args:
        server: ``"host"``, ``"host:port"`` or ``"https://host[:port][/sdk]"``.
        user: e.g. ``"administrator@vsphere.local"``.
        password: the password (str).  It goes to the library, which keeps
            its own copy for transparent re-login and masks it in every
            message; this object does not keep it.
        password_file: instead of ``password``, a file whose first line is
            the password; it is read by the C side, so no Python object
            ever holds it.  Warns when other users can read the file.
        thumbprint: pin the server certificate (SHA-1 or SHA-256 hex, see
            :func:`vsphere_thumbprint`).
        cacert: a CA bundle file instead of the system CAs.  Needed (rather
            than a pin) for :meth:`disk_source`.
        insecure: no TLS verification at all (the library logs a warning).
        timeout: seconds per call (0 = 300).

    Raises:
        AuthError: wrong user or password (``.fault == "InvalidLogin"``).
        TLSError: certificate not trusted, thumbprint mismatch.
        Error: ``ENETWORK``, ``ETIMEOUT``; InvalidArgument for a bad
            argument (exactly one of password and password_file is needed).

    Close it (or use ``with``) to log out.  Calls on one session are
    serialised by the library; it may be used from several threads.  Every
    call releases the GIL.  ``vm`` arguments are managed object ids
    (``"vm-42"``) as :meth:`find_vm` returns them, ``snapshot`` arguments
    ``"snapshot-7"``.  ``repr()`` shows the user and server, never the
    password.
    """

    __slots__ = ("_state", "_finalizer", "_desc", "__weakref__")
    _kind = "VSphere"

    def __init__(self, server, user, password=None, password_file=None, thumbprint=None,
                 cacert=None, insecure=False, timeout=0):
        server = _text(server, "server")
        user = _text(user, "user")
        thumbprint = _opt_text(thumbprint, "thumbprint")
        cacert = None if cacert is None else _path(cacert, "cacert")
        timeout = _int(timeout, "timeout", hi=_UINT32_MAX)
        if (password is None) == (password_file is None):
            raise _invalid("VSphere: give either password or password_file")
        if password is not None:
            _text(password, "password")      # str without NUL (messages never quote it)
        fd = -1
        if password_file is not None:
            password_file = _path(password_file, "password_file")
            fd = _password_fd(password_file)
        try:
            _c.vmmk_error_clear()
            # The password is read in place by the glue (never copied into
            # a Python object) and dropped from this frame right after.
            rc, ptr, problem = _c.vmmkpy_vsphere_connect(server, user, password, fd, cacert,
                                                         thumbprint, int(bool(insecure)), timeout)
        finally:
            password = None
            if fd >= 0:
                _os.close(fd)
        if rc < 0 or ptr is None:
            if ptr is not None:
                _c.vmmk_vsphere_free(ptr)
            if problem == "empty":
                raise InvalidArgument(_c.VMMK_EINVAL, "password_file %s: the file is empty"
                                      % password_file)
            if problem is not None:
                raise Error(_c.VMMK_EIO, "password_file %s: %s"
                            % (password_file, _os.strerror(problem)), errno=problem)
            raise _last_error(rc if rc < 0 else _c.VMMK_ENOMEM)
        self._state = _SessionState(ptr)
        self._finalizer = _weakref.finalize(self, self._state.close)
        self._desc = "%s@%s" % (user, redact(server))

    # -- plumbing -----------------------------------------------------------

    def _value(self, fn, *args):
        """``int f(T *out, vs, ...)`` for a scalar T: the value."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, value = fn(ptr, *args)
            _check(rc)
            return value

    # -- the server ---------------------------------------------------------

    @property
    def about(self):
        """What the server says it is: ``{"api_type": "VirtualCenter" or
        "HostAgent", "api_version", "version", "full_name",
        "instance_uuid"}`` (vmmk_vsphere_about())."""
        with _contextlib.ExitStack() as stack:
            a = self._handle(stack, _c.vmmk_vsphere_about, _c.vmmk_vsphere_about_info_free)
            return {k: getattr(a, k) for k in _ABOUT_KEYS}

    # -- inventory ----------------------------------------------------------

    def find_vm(self, what):
        """The moref (``"vm-42"``) of the VM ``what`` names: a moref, an
        inventory path (``"/DC0/vm/web01"``), a BIOS or instance UUID, or a
        name (vmmk_vsphere_find_vm()).  Raises :class:`NotFound` naming the
        closest names, or :class:`vmmk.Error` ``ECONFLICT`` listing the
        paths of the VMs that share the name."""
        return self._str(_c.vmmk_vsphere_find_vm, _text(what, "what"))

    def vms(self):
        """Every VM (templates included) as a list of dicts: ``name``,
        ``moref``, ``path``, ``uuid``, ``instance_uuid``, ``guest_id``,
        ``power_state``, ``template``, ``vcpus``, ``memory_mib``, ``disks``
        (their number), ``capacity_bytes``, ``cbt_enabled`` (None for an
        absent string), with a fixed number of round trips
        (vmmk_vsphere_list_vms())."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_vsphere_list_vms, _c.vmmk_vm_summary_list_free)
            return _json.loads(_call_str(_c.vmmk_vm_summary_list_to_json, lst, 0))["vms"]

    def describe(self, vm):
        """The VM ``vm`` in the VM model (docs/vm-model.md): the same dict
        as :func:`vmmk.load_vm` returns (vmmk_vsphere_describe_vm())."""
        with _contextlib.ExitStack() as stack:
            ptr = self._handle(stack, _c.vmmk_vsphere_describe_vm, _c.vmmk_vm_free,
                               _text(vm, "vm"))
            return _vm_dict(ptr)

    def datacenter(self, vm):
        """The inventory path of the datacenter holding ``vm`` (``"DC0"``,
        ``"Folder/DC0"``), as ``datacenter=`` of :meth:`download` and
        :meth:`upload` wants it."""
        return self._str(_c.vmmk_vsphere_datacenter_path, _text(vm, "vm"))

    # -- snapshots ----------------------------------------------------------

    def snapshot_create(self, vm, name, description="", quiesce=False):
        """Snapshot all disks of ``vm`` (no memory; the guest quiesced when
        ``quiesce``, which needs VMware Tools), wait for the task and
        return the new snapshot's moref."""
        description = None if description is None else _text(description, "description")
        return self._str(_c.vmmk_vsphere_snapshot_create, _text(vm, "vm"), _text(name, "name"),
                         description, bool(quiesce))

    def snapshots(self, vm):
        """``vm``'s snapshot tree, depth first (a parent before its
        children): dicts with ``moref``, ``name``, ``description``,
        ``create_time``, ``parent`` (None for a root), ``power_state``,
        ``quiesced``, ``current``."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_vsphere_snapshot_list,
                               _c.vmmk_vsphere_snapshots_free, _text(vm, "vm"))
            return _c.vmmkpy_snapshots_list(lst)

    def snapshot_find(self, vm, name):
        """The moref of ``vm``'s snapshot named ``name`` (a moref of one is
        accepted too).  :class:`NotFound`, or ``ECONFLICT`` listing the
        morefs when several have that name."""
        return self._str(_c.vmmk_vsphere_snapshot_find, _text(vm, "vm"), _text(name, "name"))

    def snapshot_remove(self, snapshot, remove_children=False):
        """Remove ``snapshot`` and consolidate, waiting for the task (up to
        24 h); ``remove_children`` removes the snapshots below it too."""
        self._do(_c.vmmk_vsphere_snapshot_remove, _text(snapshot, "snapshot"),
                 bool(remove_children))

    def snapshot_disks(self, snapshot):
        """The disks of ``snapshot`` as it was taken, in device order:
        dicts with ``key``, ``file_name`` (``"[ds] dir/name.vmdk"``),
        ``change_id`` (None when taken with CBT off; store it for the next
        incremental copy), ``backing_type``, ``capacity`` (bytes)."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_vsphere_snapshot_disks,
                               _c.vmmk_vsphere_snapshot_disk_list_free,
                               _text(snapshot, "snapshot"))
            return _c.vmmkpy_snapshot_disks_list(lst)

    # -- changed block tracking --------------------------------------------

    def cbt_enabled(self, vm):
        """Whether ``vm`` has changed block tracking on."""
        return self._value(_c.vmmk_vsphere_cbt_enabled, _text(vm, "vm"))

    def cbt_enable(self, vm):
        """Switch CBT on (with a snapshot create/remove cycle when the VM
        runs, so that it takes effect at once).  Returns whether anything
        was done (False: it was on already)."""
        return self._value(_c.vmmk_vsphere_cbt_enable, _text(vm, "vm"))

    def cbt_query(self, vm, disk_key, change_id, snapshot=None):
        """The areas of disk ``disk_key`` that changed since ``change_id``
        (``"*"``: every allocated area), at ``snapshot`` (None: the disk
        now, which ESXi allows only when the VM is off), as a sorted,
        merged list of ``[offset, length]``: what ``extents=`` of
        :func:`vmmk.copy` takes.

        Raises :class:`NotFound` when the disk is not in the snapshot,
        :class:`vmmk.Error` ``EIO`` (fault ``FileFault``) when CBT is off or
        the change id predates a CBT reset, :class:`InvalidArgument` for a
        bad change id."""
        disk_key = _int(disk_key, "disk_key", lo=-_INT32_MAX - 1, hi=_INT32_MAX)
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_vsphere_cbt_query, _c.vmmk_extent_list_free,
                               _text(vm, "vm"), _opt_text(snapshot, "snapshot"), disk_key,
                               _text(change_id, "change_id"))
            return _json.loads(_call_str(_c.vmmk_extent_list_to_json, lst))

    # -- power --------------------------------------------------------------

    def power_state(self, vm):
        """``"poweredOn"``, ``"poweredOff"`` or ``"suspended"``."""
        return _c.vmmk_power_state_name(self._value(_c.vmmk_vsphere_power_get, _text(vm, "vm")))

    def power_off(self, vm, hard=False, timeout=300):
        """Power ``vm`` off.  Unless ``hard``, ask the guest to shut down
        (needs VMware Tools) and wait up to ``timeout`` seconds (0 = 300),
        then fall back to a hard power-off with a warning in the log.
        Already off is success.  Returns how it went: ``"already"``,
        ``"task"`` (hard), ``"guest"`` or ``"fallback"``."""
        how = self._value(_c.vmmk_vsphere_power_off, _text(vm, "vm"), bool(hard),
                          _int(timeout, "timeout", hi=_UINT32_MAX))
        return _POWER_HOW.get(how, str(how))

    def power_on(self, vm, timeout=600):
        """Power ``vm`` on and wait up to ``timeout`` seconds (0 = 600) for
        it to be on.  Returns ``"already"`` or ``"task"``."""
        how = self._value(_c.vmmk_vsphere_power_on, _text(vm, "vm"),
                          _int(timeout, "timeout", hi=_UINT32_MAX))
        return _POWER_HOW.get(how, str(how))

    # -- datastore files ----------------------------------------------------

    def datastore_url(self, ds_path, *, datacenter):
        """The https URL of the datastore file ``ds_path``
        (``"[ds] dir/file"``) in ``datacenter``.  It needs the session's
        cookie to be read: use :meth:`download` or :meth:`disk_source`."""
        return self._str(_c.vmmk_vsphere_datastore_url, _text(datacenter, "datacenter"),
                         _text(ds_path, "ds_path"))

    def download(self, ds_path, local_path, *, datacenter):
        """Download the datastore file ``ds_path`` (``"[ds] dir/file"``) of
        ``datacenter`` (see :meth:`datacenter`) into ``local_path`` (mode
        0600), through a temporary file renamed only when complete.  For
        small files (.vmx, .nvram, logs): the session's timeout covers the
        whole transfer.  Raises :class:`NotFound` (HTTP 404),
        :class:`AuthError`, :class:`vmmk.Error` ``EHTTP``/``EIO``."""
        self._do(_c.vmmk_vsphere_datastore_download, _text(datacenter, "datacenter"),
                 _text(ds_path, "ds_path"), _path(local_path, "local_path"))

    def upload(self, local_path, ds_path, *, datacenter):
        """Upload ``local_path`` as the datastore file ``ds_path`` of
        ``datacenter`` (replacing it).  Errors as :meth:`download`
        (:class:`NotFound` for a missing local file too)."""
        self._do(_c.vmmk_vsphere_datastore_upload, _text(datacenter, "datacenter"),
                 _path(local_path, "local_path"), _text(ds_path, "ds_path"))

    def disk_source(self, vm, disk_key, snapshot=None):
        """A :class:`vmmk.Source` reading disk ``disk_key`` of ``vm`` over
        HTTPS (nbdkit's curl plugin with the session's cookie, CA file and
        timeout), for :func:`vmmk.copy`.

        With ``snapshot``, the disk file the snapshot was taken of (its
        parent disk, stable while the VM runs: the VADP source); without,
        the VM's disk as it is now.  Only a flat disk has a data file to
        read.  The session must trust the server through ``cacert`` (nbdkit
        cannot pin a thumbprint: a pinned session raises
        :class:`vmmk.Unsupported`).

        The session stays logged in while the source is open, also when
        the VSphere is closed first; it logs out once both are closed.
        """
        vm = _text(vm, "vm")
        disk_key = _int(disk_key, "disk_key", lo=-_INT32_MAX - 1, hi=_INT32_MAX)
        snapshot = _opt_text(snapshot, "snapshot")
        if snapshot is None:
            files = [(d["key"], d["file"]) for d in self.describe(vm)["disks"]]
            where = vm
        else:
            files = [(d["key"], d["file_name"]) for d in self.snapshot_disks(snapshot)]
            where = "%s of %s" % (snapshot, vm)
        disk_file = next((f for k, f in files if k == disk_key), None)
        if disk_file is None:
            raise NotFound(_c.VMMK_ENOTFOUND, "no disk with key %d in %s (keys: %s)"
                           % (disk_key, where, ", ".join(str(k) for k, _ in files) or "none"))
        datacenter = self.datacenter(vm)
        ptr = self._state.acquire()       # released when the source is freed
        try:
            return Source._new(_c.vmmk_vsphere_disk_source, (ptr, datacenter, disk_file),
                               "vsphere %s %r" % (self._desc, disk_file),
                               on_free=self._state.unuse)
        except BaseException:
            self._state.unuse()
            raise

    # -- lifetime -----------------------------------------------------------

    def close(self):
        """Log out and free the session (later, when a call in another
        thread or a :meth:`disk_source` still uses it).  Closing twice is
        harmless; a call on a closed session raises :class:`vmmk.Error`
        ``ESTATE``."""
        self._finalizer()
