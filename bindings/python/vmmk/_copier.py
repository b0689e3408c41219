"""The disk copier for Python (copier.h, docs/disk-copier.md): Source,
Copier, copy() and checksum().  Package-internal module: its names are
exported by ``vmmk`` (``vmmk.Source``, ``vmmk.copy``, ...).

It is imported at the end of vmmk/__init__.py, once the helpers it shares
with the rest of the layer (errors, argument checks, the count of live C
objects) exist there.
"""

import contextlib as _contextlib
import json as _json
import os as _os
import threading as _threading
import weakref as _weakref

from . import vmmk_c as _c
from . import (_UINT32_MAX, Error, _call_str, _check, _int, _invalid,
               _last_error, _own, _release, _text, _track, redact)

__all__ = ["Source", "Copier", "copy", "checksum"]


# ---------------------------------------------------------------------------
# Disk copier (copier.h, docs/disk-copier.md)
#
# A Source and a Copier own C objects beyond one call.  Their state (the
# pointer, a lock, who uses it) lives in a small object that the Python
# object's weakref.finalize also holds, so that closing is the same code
# whether it comes from close(), `with`, the garbage collector or
# interpreter exit, and never frees what another thread still uses: a
# Source stays alive while a Copier (or a checksum) uses it, a Copier while
# it runs.


def _is_nbd_uri(text):
    # The library's rule (vmmk copy, vmmk_checksum): "nbd...://...".
    return text.startswith("nbd") and "://" in text


def _path(value, what):
    """A str for a path (or URI) argument: str or os.PathLike."""
    try:
        value = _os.fspath(value)
    except TypeError:
        raise TypeError("%s: expected a str or path-like object, got %s"
                        % (what, type(value).__name__)) from None
    return _text(_os.fsdecode(value), what)


def _opt_text(value, what):
    return None if value is None else _text(value, what)


def _texts(values, what):
    """A list of str from a sequence of str (not from one str)."""
    if isinstance(values, (str, bytes)):
        raise TypeError("%s: expected a sequence of str, got %s" % (what, type(values).__name__))
    return [_text(v, "%s[%d]" % (what, i)) for i, v in enumerate(values)]


def _seconds(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s: expected a number of seconds, got %s" % (what, type(value).__name__))
    if not 0 <= value < float("inf"):
        raise _invalid("%s: %r is not a number of seconds >= 0" % (what, value))
    return float(value)


def _closed_error(what):
    return Error(_c.VMMK_ESTATE, "%s is closed" % what)


def _prefixed(err, prefix):
    """``err`` with ``prefix: `` in front of its message."""
    err.message = "%s: %s" % (prefix, err.message)
    err.args = (err.message,)
    return err


class _SharedHandle:
    """A C object used by several Python objects and threads: freed once
    it is closed and no call or object is using it any more.  Subclasses
    name the object (``what``) and free it in ``_free(ptr)``."""

    what = "vmmk object"

    def __init__(self, ptr):
        self.ptr = ptr
        self.lock = _threading.Lock()
        self.users = 0          # calls and objects using ptr right now
        self.closed = False
        _track()

    def acquire(self):
        with self.lock:
            if self.closed:
                raise _closed_error(self.what)
            self.users += 1
            return self.ptr

    def unuse(self):
        with self.lock:
            self.users -= 1
            ptr = self._take()
        self._free(ptr)

    def close(self):
        with self.lock:
            self.closed = True
            ptr = self._take()
        self._free(ptr)

    def _take(self):            # with lock held
        if self.closed and self.users == 0 and self.ptr is not None:
            ptr, self.ptr = self.ptr, None
            return ptr
        return None

    def _free(self, ptr):
        raise NotImplementedError


class _HandleOwner:
    """What the Python objects over a :class:`_SharedHandle` (``_state``,
    freed by ``_finalizer``; ``_desc`` for repr) share: calls that keep the
    C object open while they run, the with-statement and repr.  ``_kind``
    is the class's public name."""

    __slots__ = ()
    _kind = "object"

    @_contextlib.contextmanager
    def _using(self):
        """The C object, kept open for the duration of a call."""
        ptr = self._state.acquire()
        try:
            yield ptr
        finally:
            self._state.unuse()

    def _str(self, fn, *args):
        """``int f(char **out, obj, ...)``: the string."""
        with self._using() as ptr:
            return _call_str(fn, ptr, *args)

    def _do(self, fn, *args):
        """``int f(obj, ...)`` without out-params."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            _check(fn(ptr, *args))

    def _handle(self, stack, fn, free, *args):
        """``int f(T **out, obj, ...)``: the handle (None when the call set
        none), owned by stack."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, h = fn(ptr, *args)
            _own(stack, h, free)
            _check(rc)
            return h

    @property
    def closed(self):
        return self._state is None or self._state.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<vmmk.%s %s%s>" % (self._kind, self._desc, " (closed)" if self.closed else "")


class _SourceState(_SharedHandle):
    """The C source of a Source, freed once closed and no longer in use.

    on_free, when set, is called once after the C source is freed: a
    source made by a vSphere session releases its use of the session
    there (vmmk/_vsphere.py), so that the session is not logged out while
    the source may still read with its cookie."""

    what = "vmmk.Source"

    def __init__(self, ptr, on_free=None):
        self.on_free = on_free
        super().__init__(ptr)

    def _free(self, ptr):
        if ptr is not None:
            # Stops nbdkit (TERM, KILL after 5 s) and removes its directory.
            _release(ptr, _c.vmmk_source_free)
            on_free, self.on_free = self.on_free, None
            if on_free is not None:
                on_free()


class Source(_HandleOwner):
    """A disk to copy from (vmmk_source): an NBD URI, or an nbdkit command
    line that libvmmk runs itself the first time the source is used.

    Make one with :meth:`uri`, :meth:`file`, :meth:`nbdkit`, :meth:`vddk`
    or :meth:`http`.  nbdkit runs read-only on a Unix socket in a private
    0700 directory, never listens on TCP, and gets secrets (the VDDK
    password, the HTTP cookie) through files, never on its command line.

    Close it (or use ``with``) to stop nbdkit and remove its directory; a
    :class:`Copier` keeps its source open until the copier is closed too.
    ``repr()`` never shows a password or cookie.
    """

    __slots__ = ("_state", "_finalizer", "_desc", "__weakref__")
    _kind = "Source"

    def __init__(self, *args, **kwargs):
        raise TypeError("use vmmk.Source.uri(), .file(), .nbdkit(), .vddk() or .http()")

    @classmethod
    def _new(cls, fn, args, desc, on_free=None):
        """A Source from ``fn(*args) -> [rc, vmmk_source]``; ``on_free``
        (see _SourceState) is called only when this returns a Source."""
        _c.vmmk_error_clear()
        rc, ptr = fn(*args)
        if ptr is None or rc < 0:
            if ptr is not None:
                _c.vmmk_source_free(ptr)
            raise _last_error(rc if rc < 0 else _c.VMMK_ENOMEM)
        self = object.__new__(cls)
        self._state = _SourceState(ptr, on_free)
        self._finalizer = _weakref.finalize(self, self._state.close)
        self._desc = desc
        return self

    @classmethod
    def uri(cls, uri):
        """Any NBD URI: ``nbd://``, ``nbds://``, ``nbd+unix://``,
        ``nbds+unix://``.  Another scheme raises :class:`InvalidArgument`."""
        uri = _text(uri, "uri")
        return cls._new(_c.vmmk_source_new_uri, (uri,), "uri " + repr(redact(uri)))

    @classmethod
    def file(cls, path):
        """A local file or block device, served read-only by nbdkit's file
        plugin.  It must be readable now: a missing path raises
        :class:`NotFound` naming it."""
        path = _path(path, "path")
        return cls._new(_c.vmmk_source_new_file, (path,), "file " + repr(path))

    @classmethod
    def nbdkit(cls, plugin, params=(), filters=()):
        """An nbdkit plugin with its parameters (``"key=value"``) and
        filters in front of it (outermost first), e.g.
        ``Source.nbdkit("pattern", ["size=1G", "rdelay=1ms"], ["delay"])``.

        Parameters are argv elements (no shell); one starting with ``-``,
        or ``password=``/``cookie=``/``proxy-password=`` with a literal
        value rather than ``+FILE``, raises :class:`InvalidArgument`.
        """
        plugin = _text(plugin, "plugin")
        params = _texts(params, "params")
        filters = _texts(filters, "filters")
        desc = "nbdkit " + " ".join(repr(w) for w in
                                    ["--filter=" + f for f in filters] + [plugin] + params)
        return cls._new(_c.vmmk_source_new_nbdkit, (plugin, params, filters), redact(desc))

    @classmethod
    def vddk(cls, *, server, user, password, thumbprint, vm_moref, file, snapshot_moref=None,
             libdir=None, transports=None, compression=None, max_request=0, retry=True):
        """nbdkit's vddk plugin (VMware's VDDK, not in Debian) on one disk
        of a VM, behind the blocksize filter and (with ``retry``) the retry
        filter.

        Args:
            server: vCenter or ESXi host name.
            user, password: the password goes to nbdkit in a 0600 file,
                removed once nbdkit has read it; it is not kept here.
            thumbprint: SHA-1 of the server certificate, ``"AA:BB:..."``.
            vm_moref: ``"vm-42"``; snapshot_moref: ``"snapshot-7"`` or None.
            file: ``"[datastore] vm/vm-000001.vmdk"``.
            libdir: the VDDK directory (default /usr/lib/vmware-vix-disklib).
            transports: e.g. ``"file:nbdssl:nbd"``, or None for VDDK's default.
            compression: ``"none"``, ``"zlib"``, ``"fastlz"``, ``"skipz"`` or None.
            max_request: largest request in bytes (0 = 2 MiB).

        A missing or malformed option raises :class:`InvalidArgument`
        naming it (``"vddk source: option 'thumbprint': ..."``).
        """
        args = (_text(server, "server"), _text(user, "user"), _text(password, "password"),
                _text(thumbprint, "thumbprint"), _text(vm_moref, "vm_moref"), _text(file, "file"),
                _opt_text(snapshot_moref, "snapshot_moref"),
                None if libdir is None else _path(libdir, "libdir"),
                _opt_text(transports, "transports"), _opt_text(compression, "compression"),
                _int(max_request, "max_request", hi=_UINT32_MAX), int(bool(retry)))
        desc = "vddk server=%r user=%r vm_moref=%r file=%r" % (server, user, vm_moref, file)
        if snapshot_moref is not None:
            desc += " snapshot_moref=%r" % (snapshot_moref,)
        return cls._new(_c.vmmkpy_source_new_vddk, args, redact(desc))

    @classmethod
    def http(cls, url, *, cookie=None, cacert=None, insecure=False, retry=True, timeout=0):
        """nbdkit's curl plugin on one http(s) URL with range reads, e.g.
        vSphere's ``https://host/folder/<vm>/<disk>-flat.vmdk?dcPath=..&dsName=..``.

        Args:
            cookie: e.g. ``'vmware_soap_session="..."'``; goes to nbdkit in
                a 0600 file like the VDDK password and is not kept here.
            cacert: a CA bundle file, or None for the system CAs.
            insecure: skip TLS verification (the library logs a warning).
            retry: put the retry filter in front.
            timeout: seconds per request (0 = curl's default).

        A URL that is not http(s) or carries ``user:password@`` raises
        :class:`InvalidArgument`.
        """
        args = (_text(url, "url"), _opt_text(cookie, "cookie"),
                None if cacert is None else _path(cacert, "cacert"), int(bool(insecure)),
                int(bool(retry)), _int(timeout, "timeout", hi=_UINT32_MAX))
        return cls._new(_c.vmmkpy_source_new_http, args, "http " + repr(redact(url)))

    @property
    def argv(self):
        """The nbdkit command line (a list of str) or None for a URI source.
        Secrets appear only as ``key=+FILE`` references."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, argv = _c.vmmk_source_argv(ptr)
            _check(rc)
            return argv

    def start(self):
        """Start nbdkit now (otherwise the first copy or checksum does) and
        return the NBD URI it serves.  Starts at most once; after a failure
        every call raises the same error (:class:`Error` with ``EPROCESS``
        quoting nbdkit's last log lines, ``ETIMEOUT``, or :class:`NotFound`
        when nbdkit or the VDDK libdir is missing)."""
        with self._using() as ptr:
            _c.vmmk_error_clear()
            rc, uri = _c.vmmk_source_start(ptr)
            _check(rc)
            return uri

    @property
    def log(self):
        """nbdkit's standard error so far (redacted), or ``""`` for a URI source."""
        with self._using() as ptr:
            return _call_str(_c.vmmk_source_log, ptr)

    def close(self):
        """Stop nbdkit and free the source (later, when a copier still uses
        it).  Closing twice is harmless."""
        self._finalizer()


def _as_source(source):
    """(Source, made here): a Source as given, or one made from a URI or path."""
    if isinstance(source, Source):
        return source, False
    text = _path(source, "source")
    return (Source.uri(text) if _is_nbd_uri(text) else Source.file(text)), True


class _CopierState:
    """The vmmkpy_copier of a Copier and the source it borrows."""

    def __init__(self, pc, source, source_owned):
        self.pc = pc
        self.source = source              # a _SourceState we hold one use of
        self.source_owned = source_owned  # made by the Copier: close it too
        self.lock = _threading.Lock()
        self.idle = _threading.Condition(self.lock)
        self.running = None               # ident of the thread in run()
        self.close_pending = False
        _track()

    def run(self):
        with self.lock:
            if self.pc is None:
                raise _closed_error("vmmk.Copier")
            if self.running is not None:
                raise Error(_c.VMMK_ESTATE, "vmmk.Copier: already running in another thread")
            self.running = _threading.get_ident()
            pc = self.pc
        try:
            _c.vmmk_error_clear()
            rc, stats, raised = _c.vmmkpy_copier_run(pc)     # the GIL is released inside
            err = _last_error(rc) if rc < 0 else None
        finally:
            with self.lock:
                self.running = None
                self.idle.notify_all()
                pending = self.close_pending
            if pending:
                self.close()
        return stats, raised, err

    def cancel(self):
        with self.lock:          # pc cannot be freed meanwhile
            if self.pc is not None:
                _c.vmmkpy_copier_cancel(self.pc)

    def size(self):
        with self.lock:
            if self.pc is None:
                raise _closed_error("vmmk.Copier")
            return _c.vmmkpy_copier_size(self.pc)

    def close(self):
        with self.lock:
            if self.pc is None:
                return
            if self.running is not None:
                _c.vmmkpy_copier_cancel(self.pc)
                if self.running == _threading.get_ident():
                    # From the progress callable: run() frees it on its way out.
                    self.close_pending = True
                    return
                while self.running is not None:
                    self.idle.wait()
                if self.pc is None:
                    return
            pc, self.pc = self.pc, None
        _release(pc, _c.vmmkpy_copier_free)
        self.source.unuse()
        if self.source_owned:
            self.source.close()


class Copier:
    """One copy from ``source`` to ``destination``, prepared now (the
    source is started and probed, the destination opened) and made by
    :meth:`run`.  :meth:`cancel` stops it from any thread.

    Arguments are those of :func:`copy` (without ``cancel``).  The copier
    keeps its source open until it is closed itself; a source given as a
    URI or path is made here and closed with the copier.
    """

    __slots__ = ("_state", "_finalizer", "source", "__weakref__")

    def __init__(self, source, destination, extents=None, state_file=None, requests=0,
                 request_size=0, connections=0, destination_is_zero=False, direct_io=False,
                 checksum=False, rate_limit=0, retries=0, progress=None, progress_interval=1.0):
        destination = _path(destination, "destination")
        state_file = None if state_file is None else _path(state_file, "state_file")
        requests = _int(requests, "requests", hi=_UINT32_MAX)
        request_size = _int(request_size, "request_size", hi=_UINT32_MAX)
        connections = _int(connections, "connections", hi=_UINT32_MAX)
        rate_limit = _int(rate_limit, "rate_limit")
        retries = _int(retries, "retries", hi=_UINT32_MAX)
        progress_interval = _seconds(progress_interval, "progress_interval")
        if progress is not None and not callable(progress):
            raise TypeError("progress: expected a callable or None, got %s"
                            % type(progress).__name__)
        extents_json = None
        if extents is not None:
            extents_json = extents if isinstance(extents, str) else \
                _json.dumps(list(extents), allow_nan=False)

        src, owned = _as_source(source)
        try:
            ptr = src._state.acquire()
        except BaseException:
            if owned:
                src.close()
            raise
        pc = None
        try:
            with _contextlib.ExitStack() as stack:
                ext = None
                if extents_json is not None:
                    _c.vmmk_error_clear()
                    rc, ext = _c.vmmk_extent_list_from_json(extents_json, 0)
                    _own(stack, ext, _c.vmmk_extent_list_free)
                    if rc < 0:
                        raise _prefixed(_last_error(rc), "extents")
                _c.vmmk_error_clear()
                rc, pc = _c.vmmkpy_copier_new(ptr, destination, ext, state_file, requests,
                                              request_size, connections,
                                              int(bool(destination_is_zero)), int(bool(direct_io)),
                                              int(bool(checksum)), rate_limit, retries,
                                              progress_interval)
                _check(rc)
            _c.vmmkpy_copier_set_progress(pc, progress)
        except BaseException:
            if pc is not None:
                _c.vmmkpy_copier_free(pc)
            src._state.unuse()
            if owned:
                src.close()
            raise
        self.source = src     #: the Source (kept open while the copier is)
        self._state = _CopierState(pc, src._state, owned)
        self._finalizer = _weakref.finalize(self, self._state.close)

    def run(self):
        """Copy; return the stats dict (see :func:`copy`).  Runs once.

        The GIL is released while the copy runs; the progress callable is
        called on this thread.  Raises :class:`Cancelled` after
        :meth:`cancel`, or another :class:`Error` naming the offset and
        the cause; the exception's ``.stats`` says what was done.  An
        exception raised by the progress callable cancels the copy and is
        re-raised here (with the :class:`Cancelled` as its context).
        """
        stats, raised, err = self._state.run()
        if err is not None:
            err.stats = stats
        if raised is not None:
            if err is None:          # raised by the very last report: the copy is complete
                raise raised
            try:
                raise err
            except Error:
                raise raised         # chained: raised.__context__ is err
        if err is not None:
            raise err
        return stats

    def cancel(self):
        """Stop a running copy (:meth:`run` raises :class:`Cancelled`), or
        make a later run stop at once.  Safe from any thread and from the
        progress callable."""
        self._state.cancel()

    @property
    def size(self):
        """Size of the source in bytes."""
        return self._state.size()

    @property
    def closed(self):
        return self._state.pc is None

    def close(self):
        """Free the copier (cancelling and waiting for a run in another
        thread; from the progress callable it cancels and is freed when
        :meth:`run` returns), then release the source."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<vmmk.Copier from %r%s>" % (self.source, " (closed)" if self.closed else "")


def copy(source, destination, extents=None, state_file=None, requests=0, request_size=0,
         connections=0, destination_is_zero=False, direct_io=False, checksum=False,
         rate_limit=0, retries=0, progress=None, progress_interval=1.0, cancel=None):
    """Copy a disk (docs/disk-copier.md) and return what was done.

    Returns only when every byte asked for is on the destination and
    flushed; the GIL is released meanwhile.

    Args:
        source: a :class:`Source`, an NBD URI or a path (file or block
            device, served by nbdkit's file plugin).
        destination: a path (a missing file is created with the source's
            size) or an NBD URI.
        extents: copy only these ``[[offset, length], ...]`` (e.g. from
            changed block tracking), or their JSON text; checked by the
            library (sorted, merged; overlaps, negative or empty entries and
            ranges past the disk raise :class:`InvalidArgument`).
        state_file: resume journal: a re-run copies only what is missing.
        requests: requests in flight per connection (0 = 64, at most 1024).
        request_size: bytes per request, a power of two from 4096 to 32 MiB
            (0 = 256 KiB).
        connections: source connections when it allows multi-conn (0 = 4).
        destination_is_zero: the destination reads as zeros already.
        direct_io: O_DIRECT on a file or block device destination.
        checksum: also compute the SHA-256 of the whole logical disk.
        rate_limit: bytes per second read from the source (0 = no cap).
        retries: per request, on transient errors (0 = 5).
        progress: a callable taking a dict ``{"bytes_done", "bytes_total",
            "rate", "eta", "elapsed"}`` (bytes of the work, bytes/s, seconds
            left or None when unknown, seconds so far), called on this
            thread every ``progress_interval`` seconds and once at the end.
            An exception it raises cancels the copy and propagates.
        progress_interval: seconds between calls (0 = 1.0, at least 0.05).
        cancel: a :class:`threading.Event` (anything with ``is_set()``);
            once it is set the copy is cancelled within about 50 ms.

    Returns:
        ``{"bytes_read", "bytes_written", "bytes_zeroed", "bytes_skipped",
        "requests", "retries", "reconnects", "seconds"}`` and ``"sha256"``
        (hex) with ``checksum=True``.

    Raises:
        Cancelled: ``cancel`` was set.
        NotFound, InvalidArgument: a bad source, destination or option.
        Error: the copy failed; the message names the offset, the
            operation and the cause; ``.stats`` says what was done.
    """
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise TypeError("cancel: expected a threading.Event (with is_set()), got %s"
                        % type(cancel).__name__)
    with Copier(source, destination, extents=extents, state_file=state_file,
                requests=requests, request_size=request_size, connections=connections,
                destination_is_zero=destination_is_zero, direct_io=direct_io,
                checksum=checksum, rate_limit=rate_limit, retries=retries, progress=progress,
                progress_interval=progress_interval) as copier:
        if cancel is None:
            return copier.run()
        done = _threading.Event()

        def watch():
            # Event has no "wait for this or that": poll it while the copy runs.
            while not cancel.is_set():
                if done.wait(0.05):
                    return
            copier.cancel()

        watcher = _threading.Thread(target=watch, name="vmmk-copy-cancel", daemon=True)
        watcher.start()
        try:
            return copier.run()
        finally:
            done.set()
            watcher.join()


def checksum(what):
    """SHA-256 of a whole disk, zeros included (equal to ``sha256sum`` of
    it), as a hex str.  ``what`` is an NBD URI, a path, or a
    :class:`Source` (started if needed).  Holes the source reports are
    hashed without being read.  The GIL is released meanwhile."""
    if isinstance(what, Source):
        with what._using() as ptr:
            return _call_str(_c.vmmk_checksum_source, ptr)
    return _call_str(_c.vmmk_checksum, _path(what, "what"))
