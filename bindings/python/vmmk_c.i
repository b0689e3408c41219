/* SWIG interface of libvmmk for Python.
 *
 * It generates the package-internal modules vmmk._vmmk (the C extension)
 * and vmmk.vmmk_c (SWIG's proxy over it).  Users import `vmmk`, the
 * hand-written layer in vmmk/__init__.py, which turns return codes into
 * exceptions and JSON into dicts; nothing here is public API.
 *
 * What this file adds to the headers:
 *  - typemaps so that `char **out` comes back as a Python str (the C string
 *    is freed with vmmk_string_free() here, never seen by Python),
 *    `T **out` handles come back as SWIG pointer objects that the Python
 *    layer frees with the matching vmmk_*_free(), and `(json, len)` pairs
 *    are taken from one Python str.  A call with out-params returns
 *    [rc, value...].
 *  - typemaps for the copier: `char ***out` (an argv) comes back as a list
 *    of str or None, vmmk_source_start's borrowed `const char **uri` as a
 *    str, and nbdkit's `params`/`filters` arrays are taken from a sequence
 *    of str.
 *  - small glue functions (vmmkpy_*): those that build the option structs
 *    whose string and array members Python cannot own safely (flavor
 *    requirements, image options, VDDK and HTTP sources, copy options),
 *    one that installs a Python callable as the log callback, a test hook,
 *    and vmmkpy_copier: a copier together with its Python progress
 *    callable, run with the GIL released (see there).
 *  - for vsphere.h: vmmkpy_vsphere_connect, which takes the password (or
 *    reads it from a file) without making a Python object of it, the
 *    vmmk_vsphere_options being built there; `bool *out` out-params as
 *    bool; and converters of the snapshot arrays to lists of dicts.  The
 *    session cookie is not wrapped: Python never sees it.
 *  - for cloud.h (the OpenStack client): vmmk_cloud.i, included at the end.
 * Every wrapped call releases the GIL (threads="1") so that long calls do
 * not block other Python threads; the glue that touches Python objects is
 * marked %nothread (and releases the GIL itself around long C calls).
 */
%module(package="vmmk", threads="1",
        docstring="Low-level SWIG wrapper of libvmmk (package-internal: use `import vmmk`).") vmmk_c

%{
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <vmmk/vmmk.h>
%}

%include <stdint.i>

/* ------------------------------------------------------------------ */
/* Output strings: char **out -> str (or None when the call set none). */

%typemap(in, numinputs=0) char **out (char *tmp = NULL) {
    tmp = NULL;
    $1 = &tmp;
}
%typemap(argout) char **out {
    PyObject *s_;
    if (*$1) {
        s_ = PyUnicode_DecodeUTF8(*$1, strlen(*$1), "surrogateescape");
        vmmk_string_free(*$1);
        *$1 = NULL;
        if (!s_)
            SWIG_fail;
    } else {
        s_ = Py_None;
        Py_INCREF(s_);
    }
    $result = SWIG_Python_AppendOutput($result, s_);
}
/* Reached on every exit path, also when an argout failed half-way. */
%typemap(freearg) char **out {
    if ($1 && *$1) {
        vmmk_string_free(*$1);
        *$1 = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Output handles: T **out -> pointer object (None when NULL).  SWIG does
 * not own them: the Python layer frees each with its vmmk_*_free(). */

%define VMMK_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) {
    tmp = NULL;
    $1 = &tmp;
}
%typemap(argout) TYPE **out {
    $result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor, 0));
}
%enddef

VMMK_OUT_HANDLE(vmmk_vm)
VMMK_OUT_HANDLE(vmmk_flavor_list)
VMMK_OUT_HANDLE(vmmk_flavor_choice)
VMMK_OUT_HANDLE(vmmk_netmap)
VMMK_OUT_HANDLE(vmmk_port_plan)
VMMK_OUT_HANDLE(vmmk_properties)
VMMK_OUT_HANDLE(vmmk_source)
VMMK_OUT_HANDLE(vmmk_extent_list)
VMMK_OUT_HANDLE(vmmkpy_copier)
VMMK_OUT_HANDLE(vmmk_vsphere_about_info)
VMMK_OUT_HANDLE(vmmk_vm_summary_list)
VMMK_OUT_HANDLE(vmmk_vsphere_snapshots)
VMMK_OUT_HANDLE(vmmk_vsphere_snapshot_disk_list)

/* Enum out-params of the *_parse helpers come back as int. */
%define VMMK_OUT_ENUM(TYPE)
%typemap(in, numinputs=0) TYPE *out (TYPE tmp) {
    tmp = (TYPE)0;
    $1 = &tmp;
}
%typemap(argout) TYPE *out {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromLong((long)*$1));
}
%enddef

VMMK_OUT_ENUM(vmmk_firmware)
VMMK_OUT_ENUM(vmmk_power_state)
VMMK_OUT_ENUM(vmmk_controller)
VMMK_OUT_ENUM(vmmk_nic_adapter)
VMMK_OUT_ENUM(vmmk_disk_bus)
VMMK_OUT_ENUM(vmmk_vif_model)
VMMK_OUT_ENUM(vmmk_vsphere_power_how)

/* bool out-params (vmmk_vsphere_cbt_enabled's out, _cbt_enable's changed)
 * come back as bool. */
%typemap(in, numinputs=0) bool *out (bool tmp), bool *changed (bool tmp) {
    tmp = false;
    $1 = &tmp;
}
%typemap(argout) bool *out, bool *changed {
    $result = SWIG_Python_AppendOutput($result, PyBool_FromLong(*$1));
}

/* ------------------------------------------------------------------ */
/* Output string arrays: char ***out (NULL-terminated, vmmk_source_argv)
 * -> list of str, or None when the call set none.  Freed with
 * vmmk_strv_free() in freearg, which runs on every exit path. */

%typemap(in, numinputs=0) char ***out (char **tmp = NULL) {
    tmp = NULL;
    $1 = &tmp;
}
%typemap(argout) char ***out {
    PyObject *l_;
    if (*$1) {
        Py_ssize_t n_ = 0;
        while ((*$1)[n_])
            n_++;
        if (!(l_ = PyList_New(n_)))
            SWIG_fail;
        for (Py_ssize_t i_ = 0; i_ < n_; i_++) {
            const char *e_ = (*$1)[i_];
            PyObject *s_ = PyUnicode_DecodeUTF8(e_, strlen(e_), "surrogateescape");
            if (!s_) {
                Py_DECREF(l_);
                SWIG_fail;
            }
            PyList_SET_ITEM(l_, i_, s_);
        }
    } else {
        l_ = Py_None;
        Py_INCREF(l_);
    }
    $result = SWIG_Python_AppendOutput($result, l_);
}
%typemap(freearg) char ***out {
    if ($1 && *$1) {
        vmmk_strv_free(*$1);
        *$1 = NULL;
    }
}

/* vmmk_source_start's borrowed URI -> str (None when not set); the
 * library owns it, so nothing is freed. */
%typemap(in, numinputs=0) const char **uri (const char *tmp = NULL) {
    tmp = NULL;
    $1 = &tmp;
}
%typemap(argout) const char **uri {
    PyObject *s_;
    if (*$1) {
        if (!(s_ = PyUnicode_DecodeUTF8(*$1, strlen(*$1), "surrogateescape")))
            SWIG_fail;
    } else {
        s_ = Py_None;
        Py_INCREF(s_);
    }
    $result = SWIG_Python_AppendOutput($result, s_);
}

/* nbdkit's params and filters (NULL-terminated arrays) <- a sequence of
 * str, or None for NULL.  The sequence is copied into a tuple first: the
 * call runs without the GIL, and another thread could otherwise change a
 * list and free the strings the array points into.  The UTF-8 forms are
 * cached in the str objects, which the tuple keeps alive until freearg.
 * A NUL inside an element would cut it short: refused. */
%typemap(in) const char *const *params (PyObject *seq = NULL, const char **vec = NULL) {
    if ($input != Py_None) {
        Py_ssize_t n_;
        if (PyUnicode_Check($input)) {
            PyErr_SetString(PyExc_TypeError, "$1_name: expected a sequence of str, got a str");
            SWIG_fail;
        }
        if (!(seq = PySequence_Tuple($input)))
            SWIG_fail;
        n_ = PyTuple_GET_SIZE(seq);
        if (!(vec = calloc((size_t)n_ + 1, sizeof *vec))) {
            PyErr_NoMemory();
            SWIG_fail;
        }
        for (Py_ssize_t i_ = 0; i_ < n_; i_++) {
            PyObject *o_ = PyTuple_GET_ITEM(seq, i_);
            Py_ssize_t len_;
            const char *s_;
            if (!PyUnicode_Check(o_)) {
                PyErr_Format(PyExc_TypeError, "$1_name[%zd]: expected str, got %s", i_,
                             Py_TYPE(o_)->tp_name);
                SWIG_fail;
            }
            if (!(s_ = PyUnicode_AsUTF8AndSize(o_, &len_)))
                SWIG_fail;
            if (strlen(s_) != (size_t)len_) {
                PyErr_Format(PyExc_ValueError, "$1_name[%zd]: contains a NUL character", i_);
                SWIG_fail;
            }
            vec[i_] = s_;
        }
    }
    $1 = (const char *const *)vec;
}
%typemap(freearg) const char *const *params {
    free(vec$argnum);
    Py_XDECREF(seq$argnum);
}
%apply const char *const *params { const char *const *filters };

/* ------------------------------------------------------------------ */
/* (const char *json, size_t len) <- one str; embedded NULs are passed on
 * (and rejected by the parser), nothing is cut short. */

%typemap(in) (const char *json, size_t len) (char *buf = NULL, size_t size = 0, int alloc = 0) {
    int res_ = SWIG_AsCharPtrAndSize($input, &buf, &size, &alloc);
    if (!SWIG_IsOK(res_) || !buf)
        SWIG_exception_fail(SWIG_ArgError(res_), "in method '$symname', argument $argnum of type 'str'");
    $1 = buf;
    $2 = size ? size - 1 : 0;   /* size counts the terminating NUL */
}
%typemap(freearg) (const char *json, size_t len) {
    if (alloc$argnum == SWIG_NEWOBJ)
        free(buf$argnum);
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) (const char *json, size_t len) {
    $1 = PyUnicode_Check($input) ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* What Python does not get. */

/* Library-made handles are read-only views and not constructible from
 * Python: a Python-built struct would be freed with the wrong allocator
 * and its string members would have no owner. */
%nodefaultctor;
%nodefaultdtor;
%immutable;

/* A C function pointer is no use to Python: vmmkpy_set_log_handler below
 * takes a Python callable instead. */
%ignore vmmk_log_cb;
%ignore vmmk_log_set_callback;
/* Python never holds a C string, so it never frees one. */
%ignore vmmk_string_free;
/* The option structs carry borrowed strings and arrays (name_filter,
 * extra_spec_*): they are built in C by vmmkpy_flavor_match and
 * vmmkpy_image_properties from plain arguments instead. */
%ignore vmmk_flavor_requirements;
%ignore vmmk_flavor_requirements_from_vm;
%ignore vmmk_flavor_match;
%ignore vmmk_image_options;
%ignore vmmk_image_properties;
/* The copier (copier.h): the source option structs are built by
 * vmmkpy_source_new_vddk/_http, the copy options and the copier itself
 * live in vmmkpy_copier (with the progress callable), stats and progress
 * come back as dicts.  Python never holds a string array to free. */
%ignore vmmk_vddk_options;
%ignore vmmk_http_options;
%ignore vmmk_source_new_vddk;
%ignore vmmk_source_new_http;
%ignore vmmk_strv_free;
%ignore vmmk_extent;
%ignore vmmk_extent_list;
%ignore vmmk_extent_list_from_file;
%ignore vmmk_copy_progress;
%ignore vmmk_copy_progress_cb;
%ignore vmmk_copy_stats;
%ignore vmmk_copy_options;
%ignore vmmk_copier_new;
%ignore vmmk_copier_run;
%ignore vmmk_copier_cancel;
%ignore vmmk_copier_size;
%ignore vmmk_copier_free;
/* vSphere (vsphere.h): the options carry the password, so the session is
 * made by vmmkpy_vsphere_connect, which takes it (or reads its file) and
 * drops it; the array results come back as lists of dicts through
 * vmmkpy_snapshots_list / vmmkpy_snapshot_disks_list.  The session cookie
 * is a secret that Python has no use for: it is not wrapped at all. */
%ignore vmmk_vsphere_options;
%ignore vmmk_vsphere_connect;
%ignore vmmk_vsphere_session_cookie;
%ignore vmmk_vm_summary;
%ignore vmmk_vsphere_snapshot;
%ignore vmmk_vsphere_snapshot_disk;

%include <vmmk/common.h>
%include <vmmk/vm.h>
%include <vmmk/flavor.h>
%include <vmmk/netmap.h>
%include <vmmk/image.h>
%include <vmmk/copier.h>
%include <vmmk/vsphere.h>

%mutable;
%clearnodefaultctor;
%clearnodefaultdtor;

/* ------------------------------------------------------------------ */
/* Glue. */

%{
/* The Python log handler; read and written only with the GIL held. */
static PyObject *vmmkpy_log_handler;

/* The vmmk_log_cb installed while a Python handler is set.  The library
 * may call it from any thread, with or without the GIL, hence
 * PyGILState_Ensure.  A handler that raises must not unwind through C:
 * its exception is reported as unraisable and the message is dropped. */
static void vmmkpy_log_trampoline(int level, const char *message, void *payload)
{
    (void)payload;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *handler = vmmkpy_log_handler;
    if (handler) {
        Py_INCREF(handler);   /* it may replace itself while running */
        PyObject *r = PyObject_CallFunction(handler, "is", level, message);
        if (!r)
            PyErr_WriteUnraisable(handler);
        Py_XDECREF(r);
        Py_DECREF(handler);
    } else {
        /* Raced with set_log_handler(None): behave like the default sink. */
        fprintf(stderr, "vmmk: %s: %s\n", vmmk_log_level_name(level), message);
    }
    PyGILState_Release(gil);
}
%}

%feature("docstring") vmmkpy_set_log_handler
"vmmkpy_set_log_handler(handler) -> previous handler or None

Route libvmmk's log messages to handler(level: int, message: str);
None restores the default sink (stderr)."

%nothread vmmkpy_set_log_handler;
%inline %{
PyObject *vmmkpy_set_log_handler(PyObject *handler)
{
    if (handler != Py_None && !PyCallable_Check(handler)) {
        PyErr_SetString(PyExc_TypeError, "log handler must be callable or None");
        return NULL;
    }
    PyObject *previous = vmmkpy_log_handler;
    if (handler == Py_None) {
        /* Unhook first so that the trampoline never sees a freed handler. */
        vmmk_log_set_callback(NULL, NULL);
        vmmkpy_log_handler = NULL;
    } else {
        Py_INCREF(handler);
        vmmkpy_log_handler = handler;
        vmmk_log_set_callback(vmmkpy_log_trampoline, NULL);
    }
    if (!previous)
        Py_RETURN_NONE;
    return previous;   /* the reference we held passes to the caller */
}
%}

%feature("docstring") vmmkpy_log_test_emit
"vmmkpy_log_test_emit(level, message)

For the tests: deliver one message to the installed Python handler through
the same trampoline the library calls, entered like a library call (the GIL
released).  libvmmk's own logger is internal, so this is the only way to
check the C-to-Python path independently of what the library logs."

%inline %{
void vmmkpy_log_test_emit(int level, const char *message)
{
    vmmkpy_log_trampoline(level, message ? message : "", NULL);
}
%}

%feature("docstring") vmmkpy_flavor_match
"vmmkpy_flavor_match(flavors, vm, vcpus, ram_mib, disk_gib, boot_from_volume,
    ephemeral_gib, swap_mib, name_filter, extra_specs_json, include_private)
    -> [rc, vmmk_flavor_choice or None]

vmmk_flavor_match() with the requirements built here: from vm when it is
not None (vmmk_flavor_requirements_from_vm), then vcpus/ram_mib/disk_gib
override where they are >= 0 (-1 = not given).  extra_specs_json is None or
a JSON object of string values.  On VMMK_ENOFIT the match is still
returned (with its proposal)."

%inline %{
/* Keeps Python out of the lifetime of the borrowed strings and arrays of
 * vmmk_flavor_requirements: they live in this frame only.  The extra specs
 * arrive as JSON so that one str carries any number of pairs; the Python
 * layer builds that JSON from a dict it has checked (str -> str), so a
 * failure here is VMMK_EINVAL without a message of its own. */
int vmmkpy_flavor_match(vmmk_flavor_choice **out, const vmmk_flavor_list *flavors,
                        const vmmk_vm *vm, int vcpus, long long ram_mib, long long disk_gib,
                        int boot_from_volume, long long ephemeral_gib, long long swap_mib,
                        const char *name_filter, const char *extra_specs_json,
                        int include_private)
{
    vmmk_flavor_requirements req = VMMK_FLAVOR_REQUIREMENTS_INIT;
    json_object *specs = NULL;
    const char **keys = NULL, **values = NULL;
    int rc;

    *out = NULL;
    req.boot_from_volume = boot_from_volume != 0;
    if (vm && (rc = vmmk_flavor_requirements_from_vm(&req, vm)) < 0)
        return rc;
    if (vcpus >= 0)
        req.vcpus = vcpus;
    if (ram_mib >= 0)
        req.ram_mib = (uint64_t)ram_mib;
    if (disk_gib >= 0)
        req.disk_gib = (uint64_t)disk_gib;
    req.ephemeral_gib = ephemeral_gib > 0 ? (uint64_t)ephemeral_gib : 0;
    req.swap_mib = swap_mib > 0 ? (uint64_t)swap_mib : 0;
    req.name_filter = name_filter;
    req.include_private = include_private != 0;

    if (extra_specs_json) {
        specs = json_tokener_parse(extra_specs_json);
        if (!specs || !json_object_is_type(specs, json_type_object)) {
            rc = VMMK_EINVAL;
            goto done;
        }
        size_t n = (size_t)json_object_object_length(specs), i = 0;
        keys = calloc(n ? n : 1, sizeof *keys);
        values = calloc(n ? n : 1, sizeof *values);
        if (!keys || !values) {
            rc = VMMK_ENOMEM;
            goto done;
        }
        json_object_object_foreach(specs, k, v) {
            if (!json_object_is_type(v, json_type_string)) {
                rc = VMMK_EINVAL;
                goto done;
            }
            keys[i] = k;
            values[i] = json_object_get_string(v);
            i++;
        }
        req.extra_spec_keys = keys;
        req.extra_spec_values = values;
        req.n_extra_specs = i;
    }
    rc = vmmk_flavor_match(out, flavors, &req);
done:
    free(keys);
    free(values);
    json_object_put(specs);
    return rc;
}
%}

%feature("docstring") vmmkpy_image_properties
"vmmkpy_image_properties(vm, disk_bus, vif_model, converted, qemu_guest_agent)
    -> [rc, vmmk_properties or None]

vmmk_image_properties() with options built here; disk_bus and vif_model
are names (\"auto\", \"virtio\", ...) parsed by vmmk_disk_bus_parse() and
vmmk_vif_model_parse(), whose errors name the bad value."

%inline %{
int vmmkpy_image_properties(vmmk_properties **out, const vmmk_vm *vm, const char *disk_bus,
                            const char *vif_model, int converted, int qemu_guest_agent)
{
    vmmk_image_options opts = VMMK_IMAGE_OPTIONS_INIT;
    int rc;

    *out = NULL;
    if ((rc = vmmk_disk_bus_parse(&opts.disk_bus, disk_bus ? disk_bus : "auto")) < 0 ||
        (rc = vmmk_vif_model_parse(&opts.vif_model, vif_model ? vif_model : "auto")) < 0)
        return rc;
    opts.converted = converted != 0;
    opts.qemu_guest_agent = qemu_guest_agent != 0;
    return vmmk_image_properties(out, vm, &opts);
}
%}

/* ------------------------------------------------------------------ */
/* Copier glue. */

%feature("docstring") vmmkpy_source_new_vddk
"vmmkpy_source_new_vddk(server, user, password, thumbprint, vm_moref, file,
    snapshot_moref, libdir, transports, compression, max_request, retry)
    -> [rc, vmmk_source or None]

vmmk_source_new_vddk() with the options built here (None = NULL)."

%inline %{
/* The strings are SWIG's conversions of the Python arguments, alive for
 * this call only; the library copies what it keeps (the password only
 * into its 0600 file). */
int vmmkpy_source_new_vddk(vmmk_source **out, const char *server, const char *user,
                           const char *password, const char *thumbprint, const char *vm_moref,
                           const char *file, const char *snapshot_moref, const char *libdir,
                           const char *transports, const char *compression,
                           uint32_t max_request, int retry)
{
    vmmk_vddk_options opts = VMMK_VDDK_OPTIONS_INIT;
    opts.server = server;
    opts.user = user;
    opts.password = password;
    opts.thumbprint = thumbprint;
    opts.vm_moref = vm_moref;
    opts.file = file;
    opts.snapshot_moref = snapshot_moref;
    opts.libdir = libdir;
    opts.transports = transports;
    opts.compression = compression;
    opts.max_request = max_request;
    opts.retry = retry != 0;
    return vmmk_source_new_vddk(out, &opts);
}
%}

%feature("docstring") vmmkpy_source_new_http
"vmmkpy_source_new_http(url, cookie, cacert, insecure, retry, timeout)
    -> [rc, vmmk_source or None]

vmmk_source_new_http() with the options built here (None = NULL)."

%inline %{
int vmmkpy_source_new_http(vmmk_source **out, const char *url, const char *cookie,
                           const char *cacert, int insecure, int retry, unsigned int timeout)
{
    vmmk_http_options opts = VMMK_HTTP_OPTIONS_INIT;
    opts.url = url;
    opts.cookie = cookie;
    opts.cacert = cacert;
    opts.insecure = insecure != 0;
    opts.retry = retry != 0;
    opts.timeout = timeout;
    return vmmk_source_new_http(out, &opts);
}
%}

/* A copier as Python uses it: opaque to SWIG. */
%inline %{
typedef struct vmmkpy_copier vmmkpy_copier;
%}

%{
/* The copier with what its progress callback needs.  The library keeps
 * the options (callback and payload) for the copier's lifetime, so the
 * payload lives exactly as long: vmmkpy_copier_free frees both.
 *
 * progress and error are Python objects: read and written only with the
 * GIL held.  copier is set once, before anything can call the callback. */
struct vmmkpy_copier {
    vmmk_copier *copier;
    PyObject *progress;   /* callable(dict), or NULL */
    PyObject *error;      /* the exception it raised, or NULL */
};

/* Take the raised exception, with its traceback, as one object. */
static PyObject *vmmkpy_take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

static PyObject *vmmkpy_progress_dict(const vmmk_copy_progress *p)
{
    PyObject *eta;
    if (p->eta < 0) {
        eta = Py_None;
        Py_INCREF(eta);
    } else if (!(eta = PyFloat_FromDouble(p->eta))) {
        return NULL;
    }
    return Py_BuildValue("{s:K,s:K,s:d,s:N,s:d}", "bytes_done", (unsigned long long)p->bytes_done,
                         "bytes_total", (unsigned long long)p->bytes_total, "rate", p->rate,
                         "eta", eta, "elapsed", p->elapsed);
}

/* The vmmk_copy_progress_cb of every vmmkpy_copier.  The library calls it
 * on the thread that runs vmmk_copier_run(), which vmmkpy_copier_run
 * entered with the GIL released: take it back for the Python call.
 *
 * An exception must not unwind through C: the first one (raised by the
 * callable, or by a signal handler such as SIGINT's KeyboardInterrupt,
 * which only runs here while the copy is in C) is kept and the copy is
 * cancelled; vmmkpy_copier_run hands it to Python, which re-raises it.
 * After that the callable is not called again. */
static void vmmkpy_progress_trampoline(const vmmk_copy_progress *p, void *payload)
{
    vmmkpy_copier *pc = payload;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (!pc->error) {
        if (PyErr_CheckSignals() == 0 && pc->progress) {
            PyObject *d = vmmkpy_progress_dict(p);
            PyObject *r = d ? PyObject_CallOneArg(pc->progress, d) : NULL;
            Py_XDECREF(r);
            Py_XDECREF(d);
        }
        if (PyErr_Occurred()) {
            pc->error = vmmkpy_take_exception();
            vmmk_copier_cancel(pc->copier);
        }
    }
    PyGILState_Release(gil);
}
%}

%feature("docstring") vmmkpy_copier_new
"vmmkpy_copier_new(source, destination, extents, state_file, requests,
    request_size, connections, destination_is_zero, direct_io, checksum,
    rate_limit, retries, progress_interval) -> [rc, vmmkpy_copier or None]

vmmk_copier_new() with the options built here; extents is a
vmmk_extent_list or None, state_file None or a path.  The progress
trampoline is always installed (it also delivers signals such as Ctrl-C
while the copy runs); set the Python callable with
vmmkpy_copier_set_progress.  source is borrowed: it must outlive the
copier.  Free with vmmkpy_copier_free."

%inline %{
/* Runs without the GIL (it may start nbdkit and connect): no Python
 * object is touched here.  The extent list is copied by the library. */
int vmmkpy_copier_new(vmmkpy_copier **out, vmmk_source *source, const char *destination,
                      const vmmk_extent_list *extents, const char *state_file,
                      unsigned int requests, uint32_t request_size, unsigned int connections,
                      int destination_is_zero, int direct_io, int checksum, uint64_t rate_limit,
                      unsigned int retries, double progress_interval)
{
    vmmk_copy_options opts = VMMK_COPY_OPTIONS_INIT;
    vmmkpy_copier *pc;
    int rc;

    *out = NULL;
    if (!(pc = calloc(1, sizeof *pc)))
        return VMMK_ENOMEM;
    opts.requests = requests;
    opts.request_size = request_size;
    opts.connections = connections;
    opts.destination_is_zero = destination_is_zero != 0;
    opts.direct_io = direct_io != 0;
    opts.checksum = checksum != 0;
    opts.rate_limit = rate_limit;
    opts.state_file = state_file;
    opts.extents = extents;
    opts.retries = retries;
    opts.progress_interval = progress_interval;
    opts.progress = vmmkpy_progress_trampoline;
    opts.progress_payload = pc;
    if ((rc = vmmk_copier_new(&pc->copier, source, destination, &opts)) < 0) {
        free(pc);
        return rc;
    }
    *out = pc;
    return 0;
}
%}

%feature("docstring") vmmkpy_copier_set_progress
"vmmkpy_copier_set_progress(copier, callable or None)

The Python callable the progress trampoline calls with a dict
(bytes_done, bytes_total, rate, eta or None, elapsed)."

%nothread vmmkpy_copier_set_progress;
%inline %{
PyObject *vmmkpy_copier_set_progress(vmmkpy_copier *pc, PyObject *progress)
{
    if (!pc) {
        PyErr_SetString(PyExc_ValueError, "copier is NULL");
        return NULL;
    }
    if (progress != Py_None && !PyCallable_Check(progress)) {
        PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
        return NULL;
    }
    PyObject *old = pc->progress;
    if (progress == Py_None) {
        pc->progress = NULL;
    } else {
        Py_INCREF(progress);
        pc->progress = progress;
    }
    Py_XDECREF(old);
    Py_RETURN_NONE;
}
%}

%feature("docstring") vmmkpy_copier_run
"vmmkpy_copier_run(copier) -> (rc, stats dict, exception or None)

vmmk_copier_run() with the GIL released.  The stats dict has bytes_read,
bytes_written, bytes_zeroed, bytes_skipped, requests, retries, reconnects,
seconds, and sha256 when a checksum was made.  The exception is what the
progress callable (or a signal handler) raised, which cancelled the copy;
the caller re-raises it.  vmmk_error_last() describes rc as usual: nothing
here calls the library after the copy."

%nothread vmmkpy_copier_run;
%inline %{
PyObject *vmmkpy_copier_run(vmmkpy_copier *pc)
{
    vmmk_copy_stats st;
    PyObject *stats, *error;
    int rc;

    if (!pc) {
        PyErr_SetString(PyExc_ValueError, "copier is NULL");
        return NULL;
    }
    memset(&st, 0, sizeof st);
    Py_BEGIN_ALLOW_THREADS
    rc = vmmk_copier_run(pc->copier, &st);
    Py_END_ALLOW_THREADS
    error = pc->error;          /* our reference passes to the result */
    pc->error = NULL;
    stats = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d}",
                          "bytes_read", (unsigned long long)st.bytes_read,
                          "bytes_written", (unsigned long long)st.bytes_written,
                          "bytes_zeroed", (unsigned long long)st.bytes_zeroed,
                          "bytes_skipped", (unsigned long long)st.bytes_skipped,
                          "requests", (unsigned long long)st.requests,
                          "retries", (unsigned long long)st.retries,
                          "reconnects", (unsigned long long)st.reconnects,
                          "seconds", st.seconds);
    if (stats && st.sha256[0]) {
        PyObject *h = PyUnicode_FromStringAndSize(st.sha256, (Py_ssize_t)strnlen(st.sha256, 64));
        if (!h || PyDict_SetItemString(stats, "sha256", h) < 0)
            Py_CLEAR(stats);
        Py_XDECREF(h);
    }
    if (!stats) {
        Py_XDECREF(error);
        return NULL;
    }
    if (!error) {
        error = Py_None;
        Py_INCREF(error);
    }
    return Py_BuildValue("(iNN)", rc, stats, error);
}
%}

%feature("docstring") vmmkpy_copier_cancel
"vmmkpy_copier_cancel(copier)

vmmk_copier_cancel(): the running vmmkpy_copier_run returns VMMK_ECANCELED.
Safe from any thread."

%nothread vmmkpy_copier_cancel;   /* lock-free and instant: no need to drop the GIL */
%inline %{
void vmmkpy_copier_cancel(vmmkpy_copier *pc)
{
    if (pc)
        vmmk_copier_cancel(pc->copier);
}
%}

%feature("docstring") vmmkpy_copier_size
"vmmkpy_copier_size(copier) -> int: the source's size in bytes."

%inline %{
uint64_t vmmkpy_copier_size(const vmmkpy_copier *pc)
{
    return pc ? vmmk_copier_size(pc->copier) : 0;
}
%}

%feature("docstring") vmmkpy_copier_free
"vmmkpy_copier_free(copier)

vmmk_copier_free() (without the GIL), then drop the progress callable and
any exception not handed over.  Not while vmmkpy_copier_run runs."

%nothread vmmkpy_copier_free;
%inline %{
void vmmkpy_copier_free(vmmkpy_copier *pc)
{
    if (!pc)
        return;
    Py_BEGIN_ALLOW_THREADS
    vmmk_copier_free(pc->copier);
    Py_END_ALLOW_THREADS
    Py_CLEAR(pc->progress);
    Py_CLEAR(pc->error);
    free(pc);
}
%}

/* ------------------------------------------------------------------ */
/* vSphere glue. */

%{
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* The longest password read from a password file, as the CLI's limit. */
#define VMMKPY_MAX_PASSWORD 4096

/* A C string as str (surrogateescape, like the char **out typemap), or None. */
static PyObject *vmmkpy_str(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

/* The first line of the open file @p fd into @p buf (the trailing LF or
 * CRLF is not part of the password), as the CLI's --password-file reads
 * it.  Returns 0, an errno, or -1 for an empty password.  No GIL needed. */
static int vmmkpy_read_password(char *buf, size_t size, int fd)
{
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return *buf ? 0 : -1;
}
%}

%feature("docstring") vmmkpy_vsphere_connect
"vmmkpy_vsphere_connect(server, user, password, password_fd, cacert, thumbprint,
    insecure, timeout) -> (rc, vmmk_vsphere or None, problem or None)

vmmk_vsphere_connect() with the options built here, the GIL released.
The password is a str, or None with password_fd >= 0, an open file (the
caller's, not closed here) whose first line is read here: in both cases it
is used for this call only and no Python object is made from it (a read
one is wiped).  problem is None, or why the password file gave no password
(then rc < 0 and vmmk_error_last() is not set): the errno of a failed
read as an int, or \"empty\".  Free the session with vmmk_vsphere_free."

%nothread vmmkpy_vsphere_connect;
%inline %{
/* The password never becomes part of a Python object made here: a str is
 * read in place (its UTF-8 form, which the caller's str already holds or
 * caches), a file is read into C memory that is wiped before it is freed.
 * The library keeps its own copy for re-login and registers it as a
 * secret, so it is masked in every message. */
PyObject *vmmkpy_vsphere_connect(const char *server, const char *user, PyObject *password,
                                 int password_fd, const char *cacert, const char *thumbprint,
                                 int insecure, unsigned int timeout)
{
    vmmk_vsphere_options opts = VMMK_VSPHERE_OPTIONS_INIT;
    vmmk_vsphere *vs = NULL;
    char *filepw = NULL;
    int rc = 0, file_rc = 0;
    PyObject *handle, *problem;

    if (password != Py_None) {
        Py_ssize_t len;
        const char *pw;
        if (!PyUnicode_Check(password)) {
            PyErr_Format(PyExc_TypeError, "password: expected str, got %s", Py_TYPE(password)->tp_name);
            return NULL;
        }
        if (!(pw = PyUnicode_AsUTF8AndSize(password, &len)))
            return NULL;
        if (strlen(pw) != (size_t)len) {
            PyErr_SetString(PyExc_ValueError, "password: contains a NUL character");
            return NULL;
        }
        opts.password = pw;     /* alive: the caller's str outlives this call */
    } else if (password_fd >= 0) {
        if (!(filepw = malloc(VMMKPY_MAX_PASSWORD)))
            return PyErr_NoMemory();
    }
    opts.server = server;
    opts.user = user;
    opts.cacert = cacert;
    opts.thumbprint = thumbprint;
    opts.insecure = insecure != 0;
    opts.timeout = timeout;

    Py_BEGIN_ALLOW_THREADS
    if (filepw) {
        file_rc = vmmkpy_read_password(filepw, VMMKPY_MAX_PASSWORD, password_fd);
        opts.password = filepw;
    }
    if (file_rc == 0)
        rc = vmmk_vsphere_connect(&vs, &opts);
    else
        rc = file_rc > 0 ? VMMK_EIO : VMMK_EINVAL;
    if (filepw) {
        explicit_bzero(filepw, VMMKPY_MAX_PASSWORD);
        free(filepw);
    }
    Py_END_ALLOW_THREADS

    if (file_rc > 0)
        problem = PyLong_FromLong(file_rc);
    else if (file_rc < 0)
        problem = PyUnicode_FromString("empty");
    else {
        problem = Py_None;
        Py_INCREF(problem);
    }
    if (vs)
        handle = SWIG_NewPointerObj(SWIG_as_voidptr(vs), SWIGTYPE_p_vmmk_vsphere, 0);
    else {
        handle = Py_None;
        Py_INCREF(handle);
    }
    if (!problem || !handle) {
        Py_XDECREF(problem);
        Py_XDECREF(handle);
        Py_BEGIN_ALLOW_THREADS
        vmmk_vsphere_free(vs);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    return Py_BuildValue("(iNN)", rc, handle, problem);
}
%}

%feature("docstring") vmmkpy_snapshots_list
"vmmkpy_snapshots_list(snapshots) -> list of dict

The items of a vmmk_vsphere_snapshots (not freed here), each
{moref, name, description, create_time, parent, power_state, quiesced,
current}, in the library's order (depth first)."

%nothread vmmkpy_snapshots_list;   /* only reads memory: keeps the GIL */
%inline %{
PyObject *vmmkpy_snapshots_list(const vmmk_vsphere_snapshots *l)
{
    PyObject *list;
    if (!l) {
        PyErr_SetString(PyExc_ValueError, "snapshots is NULL");
        return NULL;
    }
    if (!(list = PyList_New((Py_ssize_t)l->n)))
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const vmmk_vsphere_snapshot *s = &l->items[i];
        PyObject *d = Py_BuildValue("{s:N,s:N,s:N,s:N,s:N,s:N,s:O,s:O}",
                                    "moref", vmmkpy_str(s->moref), "name", vmmkpy_str(s->name),
                                    "description", vmmkpy_str(s->description ? s->description : ""),
                                    "create_time", vmmkpy_str(s->create_time),
                                    "parent", vmmkpy_str(s->parent),
                                    "power_state", vmmkpy_str(s->power_state),
                                    "quiesced", s->quiesced ? Py_True : Py_False,
                                    "current", s->current ? Py_True : Py_False);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    return list;
}
%}

%feature("docstring") vmmkpy_snapshot_disks_list
"vmmkpy_snapshot_disks_list(disks) -> list of dict

The items of a vmmk_vsphere_snapshot_disk_list (not freed here), each
{key, file_name, change_id, backing_type, capacity}, in device order."

%nothread vmmkpy_snapshot_disks_list;
%inline %{
PyObject *vmmkpy_snapshot_disks_list(const vmmk_vsphere_snapshot_disk_list *l)
{
    PyObject *list;
    if (!l) {
        PyErr_SetString(PyExc_ValueError, "disks is NULL");
        return NULL;
    }
    if (!(list = PyList_New((Py_ssize_t)l->n)))
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const vmmk_vsphere_snapshot_disk *k = &l->items[i];
        PyObject *d = Py_BuildValue("{s:i,s:N,s:N,s:N,s:K}", "key", (int)k->key,
                                    "file_name", vmmkpy_str(k->file_name),
                                    "change_id", vmmkpy_str(k->change_id),
                                    "backing_type", vmmkpy_str(k->backing_type),
                                    "capacity", (unsigned long long)k->capacity);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    return list;
}
%}

/* ------------------------------------------------------------------ */
/* The OpenStack client (cloud.h): its typemaps and glue in a file of its
 * own, after the helpers above that it shares. */

%include "vmmk_cloud.i"
