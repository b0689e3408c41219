"""The OpenStack client for Python (cloud.h, docs/cloud-config.md): Cloud
and find_device().  Package-internal module: its names are exported by
``vmmk`` (``vmmk.Cloud``, ``vmmk.find_device``).

It is imported at the end of vmmk/__init__.py, after the copier, whose
Source an image upload can read from (:meth:`Cloud.upload_image`).

Resources come back as the services' own JSON objects (the ``raw_json`` of
the C structs, which most ``vmmk_cloud_*_to_json`` functions write as it
is), so every field a service sends is there, under the service's name.
"""

import contextlib as _contextlib
import json as _json
import os as _os
import weakref as _weakref
from collections.abc import Mapping as _Mapping

from . import vmmk_c as _c
from . import (_INT32_MAX, _UINT32_MAX, Error, _call_str, _check, _int, _invalid,
               _last_error, _release, _text, redact)
from ._copier import Source, _HandleOwner, _SharedHandle, _opt_text, _path

__all__ = ["Cloud", "find_device"]

_INT64_MAX = 2 ** 63 - 1
_CHUNK_HINT = ("a bytes-like object, a binary file object, an iterable of bytes, a path "
               "or a vmmk.Source")


# ---------------------------------------------------------------------------
# Argument conversion


def _id(value, what):
    """An id (or name) given as a str, or as a resource dict with "id"."""
    if isinstance(value, _Mapping):
        if not isinstance(value.get("id"), str):
            raise _invalid("%s: the dict has no \"id\" string" % what)
        value = value["id"]
    return _text(value, what)


def _opt_id(value, what):
    return None if value is None else _id(value, what)


def _ids(values, what, allow_none=False):
    """A list of ids from a sequence of str or resource dicts (not from one
    str); None stays None when allowed (it means "the default")."""
    if values is None:
        if allow_none:
            return None
        raise TypeError("%s: expected a sequence, got None" % what)
    if isinstance(values, (str, bytes, _Mapping)):
        raise TypeError("%s: expected a sequence of ids, got %s" % (what, type(values).__name__))
    return [_id(v, "%s[%d]" % (what, i)) for i, v in enumerate(values)]


def _props(value, what):
    """A dict of str to str (metadata, image properties), or None."""
    if value is None:
        return None
    if not isinstance(value, _Mapping):
        raise TypeError("%s: expected a dict of str, got %s" % (what, type(value).__name__))
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("%s: keys and values must be str (%r: %r)" % (what, k, v))
        if not k:
            raise _invalid("%s: a key is empty" % what)
        if "\0" in k or "\0" in v:
            raise _invalid("%s: %r contains a NUL character" % (what, k))
        out[k] = v
    return out


def _timeout(value):
    return _int(value, "timeout", hi=_UINT32_MAX)


# ---------------------------------------------------------------------------
# Results


def _loads(text):
    return _json.loads(text) if text else {}


def _fields(ptr, names):
    return {n: getattr(ptr, n) for n in names}


def _raw(ptr, names):
    """A resource without a *_to_json: its raw_json, else its fields."""
    raw = ptr.raw_json
    return _json.loads(raw) if raw else _fields(ptr, names)


def _server(h):
    d = _loads(_call_str(_c.vmmk_cloud_server_to_json, h, 0))
    d.pop("adminPass", None)     # Nova's answer to a create carries one: never keep it
    return d


def _raw_of(names):
    return lambda h: _raw(h, names)


def _volume(h):
    """Cinder's volume object.  vmmk_cloud_volume_to_json writes vmmk's own
    summary (size_gib, image_metadata, ...); Python gets what the service
    sent, like every other resource here, and the summary only when no
    raw object was kept."""
    raw = h.raw_json
    return _json.loads(raw) if raw else _loads(_call_str(_c.vmmk_cloud_volume_to_json, h, 0))


def _dumped(to_json):
    """A converter through a C ``*_to_json`` function (which writes the
    raw object for these types)."""
    return lambda h: _loads(_call_str(to_json, h, 0))


_auth_info = _dumped(_c.vmmk_cloud_auth_info_to_json)
_flavor = _dumped(_c.vmmk_flavor_to_json)
_port = _dumped(_c.vmmk_cloud_port_to_json)
_image = _dumped(_c.vmmk_cloud_image_to_json)

_NETWORK_FIELDS = ("id", "name", "status", "shared", "external", "mtu")
_SUBNET_FIELDS = ("id", "name", "network_id", "cidr", "ip_version", "gateway_ip", "enable_dhcp")
_SNAPSHOT_FIELDS = ("id", "name", "volume_id", "status", "size_gib")
_VOLUME_TYPE_FIELDS = ("id", "name", "is_public", "description")


# ---------------------------------------------------------------------------
# Upload readers: fill(memoryview) -> count, called by the C side with the
# GIL held (vmmkpy_cloud_image_upload).


def _bytes_reader(data):
    view = memoryview(data).cast("B")
    pos = 0

    def fill(mv):
        nonlocal pos
        n = min(len(mv), len(view) - pos)
        mv[:n] = view[pos:pos + n]
        pos += n
        return n

    return fill, len(view)


def _file_reader(f):
    readinto = getattr(f, "readinto", None)
    if readinto is not None:
        def fill(mv):
            n = readinto(mv)
            if n is None:
                raise _invalid("data: the file is non-blocking and had no data ready")
            return n
    else:
        def fill(mv):
            b = f.read(len(mv))
            if isinstance(b, str):
                raise TypeError("data: the file is open in text mode (open it with 'rb')")
            b = memoryview(b).cast("B")
            mv[:len(b)] = b
            return len(b)
    size = -1
    try:
        if f.seekable():
            pos = f.tell()
            size = f.seek(0, _os.SEEK_END) - pos
            f.seek(pos)
    except (AttributeError, OSError, ValueError):
        size = -1
    return fill, size


def _iter_reader(iterable):
    it = iter(iterable)
    pending = memoryview(b"")

    def fill(mv):
        nonlocal pending
        while not len(pending):
            try:
                chunk = next(it)
            except StopIteration:
                return 0
            if isinstance(chunk, str):
                raise TypeError("data: the iterable gave a str, expected bytes")
            pending = memoryview(chunk).cast("B")
        n = min(len(mv), len(pending))
        mv[:n] = pending[:n]
        pending = pending[n:]
        return n

    return fill, -1


# ---------------------------------------------------------------------------
# Module-level


def find_device(volume_id, device_root=None, timeout=0):
    """The block device (``"/dev/vdb"``) of the attached volume
    ``volume_id`` on this host, found by the udev names in
    ``/dev/disk/by-id`` (``virtio-<id prefix>``, ``scsi-0QEMU_QEMU_HARDDISK_<id>``,
    ``wwn-0x<hex>``, ...), polled for up to ``timeout`` seconds (0 = 60)
    because udev may lag the attach (vmmk_cloud_find_device()).

    ``device_root`` replaces ``/dev/disk/by-id`` (tests point it at a
    directory of symlinks; outside ``/dev`` a link to a regular file counts).
    Raises :class:`vmmk.Error` ``ETIMEOUT`` naming the volume, the directory
    and the names looked for; :class:`vmmk.Conflict` when two different
    devices match; :class:`vmmk.InvalidArgument` for an id that is not one.
    The GIL is released meanwhile.
    """
    volume_id = _text(volume_id, "volume_id")
    device_root = None if device_root is None else _path(device_root, "device_root")
    return _call_str(_c.vmmk_cloud_find_device, volume_id, device_root, _timeout(timeout))


class _CloudState(_SharedHandle):
    """The C handle of a Cloud, freed once closed and no longer used by a
    call in another thread."""

    what = "vmmk.Cloud"

    def _free(self, ptr):
        if ptr is not None:
            _release(ptr, _c.vmmk_cloud_free)


class Cloud(_HandleOwner):
    """An authenticated connection to an OpenStack cloud (vmmk_cloud):
    Keystone v3, Nova, Cinder v3, Neutron and Glance.

    ``Cloud(cloud=None, region=None, interface=None, timeout=0,
    retries=-1, clouds_file=None, page_size=0)`` resolves the configuration
    and authenticates (vmmk_cloud_open()).

    Args:
        cloud: the clouds.yaml entry; None = ``$OS_CLOUD``, else the
            ``OS_*`` variables (docs/cloud-config.md).
        region: overrides ``region_name``.
        interface: ``"public"``, ``"internal"`` or ``"admin"``.
        timeout: seconds per HTTP request (0 = 120).
        retries: retries of an idempotent call on 5xx, 429 or a lost
            connection (-1 = 5, 0 = none).
        clouds_file: read this clouds.yaml instead of searching for one.
        page_size: items per page of list calls (0 = the service's default).

    Raises:
        AuthError: Keystone refused the credentials (the message carries
            Keystone's text and request id, never the password).
        NetworkError: Keystone is unreachable (the message names its URL).
        NotFound, ParseError, InvalidArgument: the configuration (the
            message names the file and the key).

    Credentials never pass through Python: they are read by the library
    from clouds.yaml / secure.yaml / ``OS_*``; the token stays inside it
    and is masked in every message.  Close it (or use ``with``) to drop
    the token.  One Cloud may be used from several threads (the library
    serialises calls); every call releases the GIL.

    Resources come back as dicts: the service's own JSON object (Nova's
    server, Cinder's volume, ...), so ``v["status"]``, ``v["size"]``,
    ``v["metadata"]`` are the API's fields.  Arguments that take an id
    accept such a dict too (its ``"id"``).  A failing call raises
    :class:`vmmk.Error` or a subclass (:class:`vmmk.NotFound`,
    :class:`vmmk.Conflict` for an ambiguous name or a 409,
    :class:`vmmk.AlreadyExists`, :class:`vmmk.QuotaExceeded`,
    :class:`vmmk.AuthError`, :class:`vmmk.NetworkError`); its message names
    the object and the cause and ends with the HTTP status, method, URL and
    request id.
    """

    __slots__ = ("_state", "_finalizer", "_desc", "__weakref__")
    _kind = "Cloud"

    def __init__(self, cloud=None, region=None, interface=None, timeout=0, retries=-1,
                 clouds_file=None, page_size=0):
        cloud = _opt_text(cloud, "cloud")
        region = _opt_text(region, "region")
        interface = _opt_text(interface, "interface")
        timeout = _timeout(timeout)
        retries = _int(retries, "retries", lo=-1, hi=_INT32_MAX)
        clouds_file = None if clouds_file is None else _path(clouds_file, "clouds_file")
        page_size = _int(page_size, "page_size", hi=_UINT32_MAX)
        self._state = None            # so that repr() works on a failed open too
        self._desc = cloud or "(environment)"
        _c.vmmk_error_clear()
        rc, ptr = _c.vmmkpy_cloud_open(cloud, region, interface, timeout, retries, clouds_file,
                                       page_size)
        if rc < 0 or ptr is None:
            if ptr is not None:
                _c.vmmk_cloud_free(ptr)
            raise _last_error(rc if rc < 0 else _c.VMMK_ENOMEM)
        self._state = _CloudState(ptr)
        self._finalizer = _weakref.finalize(self, self._state.close)
        try:
            info = self.auth_info()
            user = info.get("user") or {}
            project = info.get("project") or {}
            self._desc = "%s@%s%s" % (user.get("name") or user.get("id") or "?",
                                      info.get("cloud") or self._desc,
                                      " project " + project["name"] if project.get("name") else "")
            self._desc = redact(self._desc)
        except Error:
            pass     # the description is only for repr()

    # -- plumbing -----------------------------------------------------------

    def _json(self, fn, free, convert, *args):
        """``int f(T **out, c, ...)``: the handle turned into a dict by
        ``convert`` (None when the call set none)."""
        with _contextlib.ExitStack() as stack:
            h = self._handle(stack, fn, free, *args)
            return None if h is None else convert(h)

    # -- auth and catalog ---------------------------------------------------

    def auth_info(self):
        """Who this connection is and what it reaches: ``{"cloud",
        "auth_url", "user": {"id", "name", "domain_id"}, "project": {...}
        (its members None when domain scoped), "region", "interface", "expires_at",
        "roles": [...], "endpoints": [{"service_type", "service_name",
        "interface", "region", "url"}]}`` (the token is renewed first when
        it is near expiry; it is never part of the answer)."""
        return self._json(_c.vmmk_cloud_auth_info_get, _c.vmmk_cloud_auth_info_free,
                          _auth_info)

    def endpoint(self, service):
        """The endpoint URL used for ``service`` (``"compute"``,
        ``"block-storage"`` (or ``"volumev3"``, ``"volume"``),
        ``"network"``, ``"image"``, ``"identity"``).  :class:`vmmk.NotFound`
        names the service, region and interface and lists the catalog."""
        return self._str(_c.vmmk_cloud_endpoint_url, _text(service, "service"))

    def reauthenticate(self):
        """Drop the token and authenticate again now."""
        self._do(_c.vmmk_cloud_reauthenticate)

    def request(self, service, method, path, body=None):
        """A raw call for what the typed methods do not cover:
        ``method`` on ``path`` (relative to the service's endpoint, query
        included) with an optional JSON ``body`` (a dict/list, or JSON
        text), with the same auth, retries (idempotent methods only) and
        microversion headers as the typed calls.  Returns ``(status,
        text)``; a non-2xx status raises (:class:`vmmk.NotFound`,
        :class:`vmmk.Conflict`, :class:`vmmk.AuthError`, or
        :class:`vmmk.Error` ``EHTTP`` carrying the service's message)::

            status, text = cloud.request("compute", "GET", "/os-availability-zone")
        """
        if body is not None and not isinstance(body, str):
            body = _json.dumps(body, allow_nan=False)
        args = (_text(service, "service"), _text(method, "method"), _text(path, "path"),
                None if body is None else _text(body, "body"))
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, text, status = _c.vmmk_cloud_request(ptr, *args)
            _check(rc)
            return status, text if text is not None else ""

    # -- compute: flavors ---------------------------------------------------

    def flavors(self, include_private=False):
        """Every flavor the project sees, as Nova's flavor dicts with
        ``extra_specs`` (GET /flavors/detail, all pages): what
        :func:`vmmk.match_flavor` takes.  ``include_private`` adds the
        private flavors the project may use (admins: all of them)."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_cloud_flavor_list, _c.vmmk_flavor_list_free,
                               bool(include_private))
            return [_flavor(_c.vmmkpy_flavor_list_at(lst, i)) for i in range(lst.n)]

    def flavor(self, id_or_name):
        """A flavor by id, else by unique name (:class:`vmmk.NotFound`;
        :class:`vmmk.Conflict` listing the ids of same-named ones)."""
        return self._json(_c.vmmk_cloud_flavor_get, _c.vmmk_flavor_free, _flavor,
                          _id(id_or_name, "id_or_name"))

    def create_flavor(self, name, vcpus, ram_mib, disk_gib, ephemeral_gib=0, swap_mib=0,
                      is_public=True, extra_specs=None, projects=(), id=None):
        """Create a flavor (admin), set its ``extra_specs`` (dict of str)
        and, when not ``is_public``, grant ``projects`` (ids) access; a
        failure after the create deletes the flavor again.  ``id`` None
        lets Nova choose.  A taken name or id raises
        :class:`vmmk.AlreadyExists`.  Returns the flavor dict (as
        :meth:`flavor`; a :func:`vmmk.match_flavor` proposal's fields fit
        these arguments)."""
        args = (_opt_text(id, "id"), _text(name, "name"),
                _int(vcpus, "vcpus", lo=1, hi=_INT32_MAX), _int(ram_mib, "ram_mib"),
                _int(disk_gib, "disk_gib"), _int(ephemeral_gib, "ephemeral_gib"),
                _int(swap_mib, "swap_mib"), bool(is_public),
                _props(extra_specs, "extra_specs"), _ids(projects, "projects"))
        return self._json(_c.vmmkpy_cloud_flavor_create, _c.vmmk_flavor_free, _flavor,
                          *args)

    def delete_flavor(self, id):
        """Delete a flavor by id (admin)."""
        self._do(_c.vmmk_cloud_flavor_delete, _id(id, "id"))

    # -- compute: servers ---------------------------------------------------

    def create_server(self, name, flavor, volumes, ports=(), networks=(), security_groups=(),
                      key_name=None, user_data=None, availability_zone=None, tags=(),
                      metadata=None, delete_volumes_on_termination=False, config_drive=False):
        """Create a server that boots from ``volumes[0]`` with every volume
        in ``volumes`` attached in order (block_device_mapping_v2, boot
        index 0, 1, ...).  Returns once Nova accepted it (status
        ``"BUILD"``): follow with :meth:`wait_server`.

        Args:
            name: the server name.
            flavor: flavor id or unique name (or a flavor dict).
            volumes: volume ids (or dicts); the first must be bootable
                (:meth:`set_volume_bootable` or ``create_volume(...,
                bootable=True)``).
            ports: port ids in NIC order; networks: networks to get a new
                port on (after the ports).  With neither the server has no
                network.
            security_groups: names or ids, for the ports Nova makes.
            key_name, user_data (text, base64-encoded by vmmk),
            availability_zone, tags, metadata (dict of str): as Nova has them.
            delete_volumes_on_termination: default False, the volumes
                outlive the server.
            config_drive: attach a config drive.

        A refusal carries Nova's message and request id (a quota:
        :class:`vmmk.QuotaExceeded`).  The admin password Nova may return
        is not kept.
        """
        args = (_text(name, "name"), _id(flavor, "flavor"), _ids(volumes, "volumes"),
                _ids(ports, "ports"), _ids(networks, "networks"),
                _ids(security_groups, "security_groups"), _opt_text(key_name, "key_name"),
                _opt_text(user_data, "user_data"),
                _opt_text(availability_zone, "availability_zone"), _ids(tags, "tags"),
                _props(metadata, "metadata"), bool(delete_volumes_on_termination),
                bool(config_drive))
        return self._json(_c.vmmkpy_cloud_server_create, _c.vmmk_cloud_server_free, _server,
                          *args)

    def server(self, id_or_name):
        """A server (Nova's dict) by id, else by unique name."""
        return self._json(_c.vmmk_cloud_server_get, _c.vmmk_cloud_server_free, _server,
                          _id(id_or_name, "id_or_name"))

    def wait_server(self, id, status="ACTIVE", timeout=0):
        """Wait until the server's status is ``status`` (``"ACTIVE"``,
        ``"SHUTOFF"``) with no task in progress; return the server.  A
        server in ERROR raises :class:`vmmk.Error` ``EREMOTE`` with its
        fault message (``"No valid host was found"``); ``ETIMEOUT`` after
        ``timeout`` seconds (0 = 600)."""
        return self._json(_c.vmmk_cloud_server_wait, _c.vmmk_cloud_server_free, _server,
                          _id(id, "id"), _text(status, "status"), _timeout(timeout))

    def stop_server(self, id, wait=True):
        """os-stop, waiting for SHUTOFF when ``wait``; already off is success."""
        self._do(_c.vmmk_cloud_server_stop, _id(id, "id"), bool(wait))

    def start_server(self, id, wait=True):
        """os-start, waiting for ACTIVE when ``wait``; already on is success."""
        self._do(_c.vmmk_cloud_server_start, _id(id, "id"), bool(wait))

    def delete_server(self, id, wait=True):
        """Delete a server; with ``wait``, until it is gone.  An unknown id
        is success (already gone)."""
        self._do(_c.vmmk_cloud_server_delete, _id(id, "id"), bool(wait))

    def attach_volume(self, server, volume, timeout=0):
        """Attach ``volume`` to ``server`` and wait until it is in-use.
        Returns the device Nova reports (``"/dev/vdb"``), only a hint: on
        the server itself :func:`vmmk.find_device` finds the real one."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, device = _c.vmmk_cloud_volume_attach(ptr, _id(server, "server"),
                                                     _id(volume, "volume"), _timeout(timeout))
            _check(rc)
            return device

    def detach_volume(self, server, volume, timeout=0):
        """Detach ``volume`` from ``server`` and wait until it is available
        again; a volume not attached there is success."""
        self._do(_c.vmmk_cloud_volume_detach, _id(server, "server"), _id(volume, "volume"),
                 _timeout(timeout))

    def local_server_id(self, given=None, metadata_url=None):
        """The id of the server this process runs on (the conversion
        host): ``given`` when not None (checked to exist), else the
        ``uuid`` of the metadata service (``metadata_url``, default
        ``http://169.254.169.254/openstack/latest/meta_data.json``).
        :class:`vmmk.NotFound` when no metadata service answers, saying to
        pass the id."""
        return self._str(_c.vmmk_cloud_local_server_id, _opt_id(given, "given"),
                         _opt_text(metadata_url, "metadata_url"))

    # -- block storage ------------------------------------------------------

    def create_volume(self, name, size_gib, volume_type=None, availability_zone=None,
                      description=None, metadata=None, image_metadata=None, bootable=False,
                      wait=True, timeout=0):
        """Create a volume of ``size_gib`` GiB and return it (Cinder's dict).

        ``metadata`` (dict of str) is plain metadata; ``image_metadata``
        (``hw_*`` properties Nova reads from a boot volume) and
        ``bootable`` are set once the volume is available, so they imply
        waiting.  With ``wait`` it returns once the volume is
        ``"available"`` (``timeout`` seconds, 0 = 600).  A volume that ends
        in ``"error"`` raises :class:`vmmk.Error` ``EREMOTE`` naming it (it
        is left for inspection); a refused create carries Cinder's message
        (over quota: :class:`vmmk.QuotaExceeded`).
        """
        args = (_text(name, "name"), _int(size_gib, "size_gib", lo=1),
                _opt_text(volume_type, "volume_type"),
                _opt_text(availability_zone, "availability_zone"),
                _opt_text(description, "description"), _props(metadata, "metadata"),
                _props(image_metadata, "image_metadata"), bool(bootable), bool(wait),
                _timeout(timeout))
        return self._json(_c.vmmkpy_cloud_volume_create, _c.vmmk_cloud_volume_free,
                          _volume, *args)

    def volume(self, id_or_name):
        """A volume (Cinder's dict) by id, else by unique name."""
        return self._json(_c.vmmk_cloud_volume_get, _c.vmmk_cloud_volume_free, _volume,
                          _id(id_or_name, "id_or_name"))

    def volumes(self, name=None, metadata=None):
        """The project's volumes (all pages) with exactly this ``name``
        (None: any) and every key/value of ``metadata`` (dict of str)."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_cloud_volume_list_get, _c.vmmk_cloud_volume_list_free,
                               _opt_text(name, "name"), _props(metadata, "metadata"))
            return [_volume(_c.vmmkpy_volume_list_at(lst, i)) for i in range(lst.n)]

    def wait_volume(self, id, status, timeout=0):
        """Wait until the volume's status is ``status`` and return it;
        ``"error*"`` statuses raise ``EREMOTE``, ``ETIMEOUT`` after
        ``timeout`` seconds (0 = 600)."""
        return self._json(_c.vmmk_cloud_volume_wait, _c.vmmk_cloud_volume_free, _volume,
                          _id(id, "id"), _text(status, "status"),
                          _timeout(timeout))

    def delete_volume(self, id, wait=True):
        """Delete a volume; with ``wait`` until it is gone.  An unknown id
        is success."""
        self._do(_c.vmmk_cloud_volume_delete, _id(id, "id"), bool(wait))

    def set_volume_metadata(self, id, metadata):
        """Merge ``metadata`` (dict of str) into the volume's metadata."""
        self._do(_c.vmmk_cloud_volume_metadata_set, _id(id, "id"), _props(metadata, "metadata"))

    def volume_metadata(self, id):
        """The volume's metadata as a dict of str."""
        with _contextlib.ExitStack() as stack:
            p = self._handle(stack, _c.vmmk_cloud_volume_metadata_get, _c.vmmk_properties_free,
                             _id(id, "id"))
            return {} if p is None else _loads(_call_str(_c.vmmk_properties_to_json, p, 0))

    def delete_volume_metadata_key(self, id, key):
        """Delete one metadata key; an absent key is success."""
        self._do(_c.vmmk_cloud_volume_metadata_delete, _id(id, "id"), _text(key, "key"))

    def set_volume_bootable(self, id, bootable=True):
        """Mark the volume bootable (os-set_bootable): needed before a
        server boots from it."""
        self._do(_c.vmmk_cloud_volume_set_bootable, _id(id, "id"), bool(bootable))

    def set_volume_image_metadata(self, id, properties):
        """Set image metadata (``hw_*`` properties, dict of str) on the
        volume (os-set_image_metadata): Nova reads them from a boot volume."""
        self._do(_c.vmmk_cloud_volume_set_image_metadata, _id(id, "id"),
                 _props(properties, "properties"))

    def volume_types(self):
        """The volume types: dicts with ``id``, ``name``, ``is_public``,
        ``description``."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_cloud_volume_type_list_get,
                               _c.vmmk_cloud_volume_type_list_free)
            return [_fields(_c.vmmkpy_volume_type_list_at(lst, i), _VOLUME_TYPE_FIELDS)
                    for i in range(lst.n)]

    def create_snapshot(self, volume, name=None, force=False, wait=True):
        """Snapshot ``volume`` (``force`` for an in-use one) and, with
        ``wait``, wait until it is available.  Returns Cinder's snapshot dict."""
        return self._json(_c.vmmk_cloud_snapshot_create, _c.vmmk_cloud_snapshot_free,
                          _raw_of(_SNAPSHOT_FIELDS), _id(volume, "volume"),
                          _opt_text(name, "name"), bool(force), bool(wait))

    def snapshot(self, id):
        """A volume snapshot (Cinder's dict) by id."""
        return self._json(_c.vmmk_cloud_snapshot_get, _c.vmmk_cloud_snapshot_free,
                          _raw_of(_SNAPSHOT_FIELDS), _id(id, "id"))

    def delete_snapshot(self, id, wait=True):
        """Delete a snapshot; with ``wait`` until it is gone.  Unknown id is success."""
        self._do(_c.vmmk_cloud_snapshot_delete, _id(id, "id"), bool(wait))

    def revert_volume(self, volume, snapshot, timeout=0):
        """Revert ``volume`` to its latest snapshot ``snapshot`` and wait
        until it is available (volume API 3.40+, else
        :class:`vmmk.Unsupported`)."""
        self._do(_c.vmmk_cloud_volume_revert, _id(volume, "volume"), _id(snapshot, "snapshot"),
                 _timeout(timeout))

    def manage_volume(self, host, ref, name=None, volume_type=None, bootable=False):
        """Bring a volume that exists on a backend under Cinder
        (os-volume-manage, admin): ``host`` is ``"host@backend#pool"``,
        ``ref`` the backend's reference (``{"source-name": "..."}``, a dict
        or JSON text).  Returns the volume dict."""
        if not isinstance(ref, str):
            ref = _json.dumps(ref)
        return self._json(_c.vmmk_cloud_volume_manage, _c.vmmk_cloud_volume_free, _volume,
                          _text(host, "host"), _text(ref, "ref"),
                          _opt_text(name, "name"), _opt_text(volume_type, "volume_type"),
                          bool(bootable))

    # -- network ------------------------------------------------------------

    def networks(self):
        """Every network the project sees (Neutron's dicts, all pages)."""
        with _contextlib.ExitStack() as stack:
            lst = self._handle(stack, _c.vmmk_cloud_network_list_get,
                               _c.vmmk_cloud_network_list_free)
            return [_raw(_c.vmmkpy_network_list_at(lst, i), _NETWORK_FIELDS)
                    for i in range(lst.n)]

    def network(self, id_or_name):
        """A network by id, else by name: :class:`vmmk.NotFound` for none,
        :class:`vmmk.Conflict` listing the ids when several share it."""
        return self._json(_c.vmmk_cloud_network_find, _c.vmmk_cloud_network_free,
                          _raw_of(_NETWORK_FIELDS), _id(id_or_name, "id_or_name"))

    def subnet(self, id_or_name, network_id=None):
        """A subnet by id, else by name (within ``network_id`` when given);
        same rules as :meth:`network`."""
        return self._json(_c.vmmk_cloud_subnet_find, _c.vmmk_cloud_subnet_free,
                          _raw_of(_SUBNET_FIELDS), _id(id_or_name, "id_or_name"),
                          _opt_id(network_id, "network_id"))

    def security_group(self, id_or_name):
        """The id of a security group given by id, else by name within the
        project; same rules as :meth:`network`."""
        return self._str(_c.vmmk_cloud_security_group_find, _id(id_or_name, "id_or_name"))

    def create_port(self, network, name=None, mac_address=None, fixed_ips=(), subnet=None,
                    security_groups=None, tags=(), description=None, reuse=False):
        """Create a port on ``network`` (id or unique name) and set its
        ``tags``; return Neutron's port dict.

        ``fixed_ips`` are addresses or ``"subnet=S,ip-address=A"``;
        ``subnet`` is the default subnet for them.  ``security_groups``
        None means the project's default group, ``()`` none.  With
        ``reuse``, a free port on the network with this MAC (or, without
        one, these tags) is returned instead of failing; one used by a
        server, or with other fixed IPs or tags, raises
        :class:`vmmk.Conflict` naming the difference.  Without ``reuse`` a
        MAC in use raises :class:`vmmk.AlreadyExists`.
        """
        args = (_id(network, "network"), _opt_text(name, "name"),
                _opt_text(mac_address, "mac_address"), _ids(fixed_ips, "fixed_ips"),
                _opt_id(subnet, "subnet"),
                _ids(security_groups, "security_groups", allow_none=True), _ids(tags, "tags"),
                _opt_text(description, "description"), bool(reuse))
        return self._json(_c.vmmkpy_cloud_port_create, _c.vmmk_cloud_port_free,
                          _port, *args)

    def port(self, id_or_name):
        """A port (Neutron's dict) by id, else by unique name."""
        return self._json(_c.vmmk_cloud_port_get, _c.vmmk_cloud_port_free,
                          _port, _id(id_or_name, "id_or_name"))

    def find_port(self, mac=None, tags=(), network_id=None):
        """The one port with MAC ``mac`` (None: any) carrying every tag in
        ``tags``, on ``network_id`` when given.  :class:`vmmk.NotFound`
        when none, :class:`vmmk.Conflict` when several."""
        return self._json(_c.vmmk_cloud_port_find, _c.vmmk_cloud_port_free,
                          _port, _opt_text(mac, "mac"), _ids(tags, "tags"),
                          _opt_id(network_id, "network_id"))

    def delete_port(self, id):
        """Delete a port; an unknown id is success."""
        self._do(_c.vmmk_cloud_port_delete, _id(id, "id"))

    # -- image --------------------------------------------------------------

    def create_image(self, name, disk_format="raw", container_format="bare",
                     visibility="private", min_disk_gib=0, min_ram_mib=0, properties=None,
                     tags=()):
        """Create an image record (status ``"queued"``) with
        ``properties`` (``hw_*`` etc., dict of str) and ``tags``; return
        Glance's image dict.  Upload its data with :meth:`upload_image`."""
        args = (_text(name, "name"), _opt_text(disk_format, "disk_format"),
                _opt_text(container_format, "container_format"),
                _opt_text(visibility, "visibility"), _int(min_disk_gib, "min_disk_gib"),
                _int(min_ram_mib, "min_ram_mib"), _props(properties, "properties"),
                _ids(tags, "tags"))
        return self._json(_c.vmmkpy_cloud_image_create, _c.vmmk_cloud_image_free,
                          _image, *args)

    def image(self, id_or_name):
        """An image (Glance's dict) by id, else by unique name."""
        return self._json(_c.vmmk_cloud_image_get, _c.vmmk_cloud_image_free,
                          _image, _id(id_or_name, "id_or_name"))

    def set_image_properties(self, id, properties):
        """Add or replace image properties (dict of str)."""
        self._do(_c.vmmk_cloud_image_set_properties, _id(id, "id"),
                 _props(properties, "properties"))

    def delete_image(self, id):
        """Delete an image; an unknown id is success."""
        self._do(_c.vmmk_cloud_image_delete, _id(id, "id"))

    def upload_image(self, id, data, size=None, timeout=0):
        """Upload the image's data, then wait until Glance has it
        ``"active"`` (``timeout`` seconds, 0 = 3600) and check the size it
        stored.

        ``data`` is one of:

        * bytes-like (``bytes``, ``bytearray``, ``memoryview``);
        * a binary file object (read in chunks with ``readinto``/``read``;
          its size from the current position to the end when it is
          seekable, else sent chunked);
        * any other iterable of bytes-like chunks, e.g. a generator (sent
          chunked);
        * a path (``str`` or path-like): a local file or block device,
          read by the library itself;
        * a :class:`vmmk.Source`: the whole disk, read in order over NBD.

        ``size`` overrides the byte count of a file object or iterable
        (the data must then have exactly that many bytes).  Nothing is
        buffered beyond one chunk; the GIL is released during the upload
        and taken for each read.  An exception raised while reading (or
        Ctrl-C) aborts the upload and is re-raised here; an image that
        ends ``"killed"`` raises ``EREMOTE``.
        """
        id = _id(id, "id")
        timeout = _timeout(timeout)
        if isinstance(data, Source):
            with self._using() as ptr, data._using() as sp:
                _c.vmmk_error_clear()
                _check(_c.vmmk_cloud_image_upload_source(ptr, id, sp, timeout))
            return
        if isinstance(data, (str, _os.PathLike)):
            self._do(_c.vmmk_cloud_image_upload_file, id, _path(data, "data"), timeout)
            return
        if isinstance(data, (bytes, bytearray, memoryview)):
            fill, known = _bytes_reader(data)
        elif hasattr(data, "readinto") or hasattr(data, "read"):
            fill, known = _file_reader(data)
        elif hasattr(data, "__iter__"):
            fill, known = _iter_reader(data)
        else:
            raise TypeError("data: expected %s, got %s" % (_CHUNK_HINT, type(data).__name__))
        if size is not None:
            known = _int(size, "size", hi=_INT64_MAX)
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, raised = _c.vmmkpy_cloud_image_upload(ptr, id, fill, known, timeout)
            err = _last_error(rc) if rc < 0 else None
        if raised is not None:
            if err is None:
                raise raised
            try:
                raise err
            except Error:
                raise raised     # chained: raised.__context__ is the library's error
        if err is not None:
            raise err

    def wait_image(self, id, status="active", timeout=0):
        """Wait until the image's status is ``status`` and return it;
        ``"killed"``/``"deleted"`` raise ``EREMOTE``."""
        return self._json(_c.vmmk_cloud_image_wait, _c.vmmk_cloud_image_free,
                          _image, _id(id, "id"), _text(status, "status"),
                          _timeout(timeout))

    # -- lifetime -----------------------------------------------------------

    def close(self):
        """Free the connection (later, when a call in another thread still
        uses it); the token is dropped, not revoked.  Closing twice is
        harmless; a call on a closed Cloud raises :class:`vmmk.Error`
        ``ESTATE``."""
        self._finalizer()
