/* SWIG interface of the OpenStack client (vmmk/cloud.h), %included at the
 * end of vmmk_c.i, whose typemaps (char **out, VMMK_OUT_HANDLE) and glue
 * helpers (vmmkpy_str, vmmkpy_take_exception) it uses.  Package-internal:
 * the Python API is vmmk.Cloud in vmmk/_cloud.py.
 *
 * What this file adds to cloud.h:
 *  - `T **out` handles for every cloud resource (freed by the Python layer
 *    with the matching vmmk_*_free), `char **device` as str, `long *status`
 *    as int;
 *  - string arrays given as (array, count) pairs taken from one Python
 *    sequence of str (None = NULL, 0), copied into a tuple that keeps the
 *    UTF-8 forms alive while the call runs without the GIL;
 *  - `const vmmk_properties *` (metadata, image metadata, properties) taken
 *    from a dict of str to str, copied into C with vmmk_properties_new/set
 *    before the call and freed after it (a vmmk_properties pointer object
 *    or None are accepted too);
 *  - glue that builds the option and spec structs, whose members borrow
 *    strings and arrays, from plain arguments (vmmkpy_cloud_open,
 *    vmmkpy_cloud_*_create), and vmmkpy_cloud_image_upload, which streams a
 *    Python reader through vmmk_cloud_reader with the GIL released and
 *    re-taken for each read;
 *  - vmmkpy_*_list_at: a borrowed item of a resource list, so that Python
 *    can turn each into a dict.
 * Nothing here handles a secret: credentials come from clouds.yaml /
 * secure.yaml / OS_* inside the library, and the token never leaves it.
 */

/* ------------------------------------------------------------------ */
/* Out-params. */

VMMK_OUT_HANDLE(vmmk_cloud)
VMMK_OUT_HANDLE(vmmk_cloud_auth_info)
VMMK_OUT_HANDLE(vmmk_flavor)
VMMK_OUT_HANDLE(vmmk_cloud_server)
VMMK_OUT_HANDLE(vmmk_cloud_volume)
VMMK_OUT_HANDLE(vmmk_cloud_volume_list)
VMMK_OUT_HANDLE(vmmk_cloud_volume_type_list)
VMMK_OUT_HANDLE(vmmk_cloud_snapshot)
VMMK_OUT_HANDLE(vmmk_cloud_network)
VMMK_OUT_HANDLE(vmmk_cloud_network_list)
VMMK_OUT_HANDLE(vmmk_cloud_subnet)
VMMK_OUT_HANDLE(vmmk_cloud_port)
VMMK_OUT_HANDLE(vmmk_cloud_image)

/* vmmk_cloud_volume_attach's device hint: a string like any char **out. */
%apply char **out { char **device };

/* vmmk_cloud_request's HTTP status -> int. */
%typemap(in, numinputs=0) long *status (long tmp) {
    tmp = 0;
    $1 = &tmp;
}
%typemap(argout) long *status {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromLong(*$1));
}

/* ------------------------------------------------------------------ */
/* (const char *const *list, size_t n) <- a sequence of str, or None for
 * (NULL, 0).  An empty sequence gives a non-NULL empty array: "none" is
 * not "the default" (port security groups).  As for nbdkit's params in
 * vmmk_c.i, the sequence is copied into a tuple first (another thread may
 * change a list while the call runs without the GIL) and a NUL inside an
 * element is refused. */

%typemap(in) (const char *const *list, size_t n) (PyObject *seq = NULL, const char **vec = NULL) {
    $1 = NULL;
    $2 = 0;
    if ($input != Py_None) {
        Py_ssize_t n_;
        if (PyUnicode_Check($input) || PyBytes_Check($input)) {
            PyErr_SetString(PyExc_TypeError, "$1_name: expected a sequence of str, got a single string");
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
        $1 = ($1_ltype)vec;
        $2 = (size_t)n_;
    }
}
%typemap(freearg) (const char *const *list, size_t n) {
    free(vec$argnum);
    Py_XDECREF(seq$argnum);
}

%apply (const char *const *list, size_t n) {
    (const char *const *projects, size_t n_projects),
    (const char *const *tags, size_t n_tags),
    (const char *const *volumes, size_t n_volumes),
    (const char *const *ports, size_t n_ports),
    (const char *const *networks, size_t n_networks),
    (const char *const *security_groups, size_t n_security_groups),
    (const char *const *fixed_ips, size_t n_fixed_ips)
};

/* ------------------------------------------------------------------ */
/* const vmmk_properties * <- a dict (any mapping) of str to str, copied
 * into a new vmmk_properties freed after the call; or a vmmk_properties
 * pointer object (borrowed); or None for NULL.  The Python layer checks
 * keys and values first, so the errors here are only for direct use. */

%{
static int vmmkpy_props_from_mapping(vmmk_properties **out, PyObject *map, const char *what)
{
    PyObject *items = NULL;
    vmmk_properties *p = NULL;
    int ok = 0;

    *out = NULL;
    if (!(items = PyMapping_Items(map)))
        return -1;
    if (vmmk_properties_new(&p) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i), *k, *v;
        Py_ssize_t klen, vlen;
        const char *ks, *vs;
        if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
            PyErr_Format(PyExc_TypeError, "%s: items must be (key, value) pairs", what);
            goto done;
        }
        k = PyTuple_GET_ITEM(kv, 0);
        v = PyTuple_GET_ITEM(kv, 1);
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
            PyErr_Format(PyExc_TypeError, "%s: keys and values must be str", what);
            goto done;
        }
        if (!(ks = PyUnicode_AsUTF8AndSize(k, &klen)) || !(vs = PyUnicode_AsUTF8AndSize(v, &vlen)))
            goto done;
        if (klen == 0 || strlen(ks) != (size_t)klen || strlen(vs) != (size_t)vlen) {
            PyErr_Format(PyExc_ValueError, "%s: a key is empty or contains a NUL character", what);
            goto done;
        }
        if (vmmk_properties_set(p, ks, vs) < 0) {
            PyErr_Format(PyExc_ValueError, "%s: %s", what, vmmk_error_last()->message);
            goto done;
        }
    }
    *out = p;
    p = NULL;
    ok = 1;
done:
    vmmk_properties_free(p);
    Py_XDECREF(items);
    return ok ? 0 : -1;
}
%}

%typemap(in) const vmmk_properties *props (vmmk_properties *made = NULL, void *argp = NULL) {
    $1 = NULL;
    if ($input == Py_None) {
        /* NULL */
    } else if (PyMapping_Check($input) && !PySequence_Check($input)) {
        if (vmmkpy_props_from_mapping(&made, $input, "$1_name") < 0)
            SWIG_fail;
        $1 = made;
    } else {
        int res_ = SWIG_ConvertPtr($input, &argp, $1_descriptor, 0);
        if (!SWIG_IsOK(res_))
            SWIG_exception_fail(SWIG_ArgError(res_),
                                "in method '$symname', argument $argnum ($1_name): expected a dict of str");
        $1 = ($1_ltype)argp;
    }
}
%typemap(freearg) const vmmk_properties *props {
    vmmk_properties_free(made$argnum);
}
%apply const vmmk_properties *props {
    const vmmk_properties *metadata,
    const vmmk_properties *image_metadata,
    const vmmk_properties *properties,
    const vmmk_properties *extra_specs
};

/* ------------------------------------------------------------------ */
/* What Python does not get. */

%nodefaultctor;
%nodefaultdtor;
%immutable;

/* The options and the create specs borrow strings and arrays: built in C
 * by the glue below from plain arguments. */
%ignore vmmk_cloud_options;
%ignore vmmk_cloud_open;
%ignore vmmk_cloud_flavor_create;
%ignore vmmk_cloud_server_spec;
%ignore vmmk_cloud_server_create;
%ignore vmmk_cloud_volume_spec;
%ignore vmmk_cloud_volume_create;
%ignore vmmk_cloud_port_spec;
%ignore vmmk_cloud_port_create;
%ignore vmmk_cloud_image_spec;
%ignore vmmk_cloud_image_create;
/* A C function pointer is no use to Python: vmmkpy_cloud_image_upload
 * takes a Python callable instead. */
%ignore vmmk_cloud_reader;
%ignore vmmk_cloud_image_upload;
/* The member's accessor would be called vmmk_cloud_volume_metadata_get,
 * the name of a function; Python reads volumes as dicts anyway. */
%ignore vmmk_cloud_volume::metadata;

%include <vmmk/cloud.h>

%mutable;
%clearnodefaultctor;
%clearnodefaultdtor;

/* ------------------------------------------------------------------ */
/* Glue: the structs built from plain arguments.  These run without the
 * GIL (the arguments were converted before); the strings and arrays are
 * the typemaps' conversions, alive for the call, and the library copies
 * what it keeps. */

%feature("docstring") vmmkpy_cloud_open
"vmmkpy_cloud_open(cloud, region, interface, timeout, retries, clouds_file,
    page_size) -> [rc, vmmk_cloud or None]

vmmk_cloud_open() with vmmk_cloud_options built here (None = NULL).
Free with vmmk_cloud_free."

%inline %{
int vmmkpy_cloud_open(vmmk_cloud **out, const char *cloud, const char *region,
                      const char *interface, unsigned int timeout, int retries,
                      const char *clouds_file, unsigned int page_size)
{
    vmmk_cloud_options opts = VMMK_CLOUD_OPTIONS_INIT;
    opts.cloud = cloud;
    opts.region = region;
    opts.interface = interface;
    opts.timeout = timeout;
    opts.retries = retries;
    opts.clouds_file = clouds_file;
    opts.page_size = page_size;
    return vmmk_cloud_open(out, &opts);
}
%}

%feature("docstring") vmmkpy_cloud_flavor_create
"vmmkpy_cloud_flavor_create(cloud, id, name, vcpus, ram_mib, disk_gib,
    ephemeral_gib, swap_mib, is_public, extra_specs, projects)
    -> [rc, vmmk_flavor or None]

vmmk_cloud_flavor_create() with the spec built here: id None lets Nova
choose, extra_specs a dict of str or None, projects a sequence of ids."

%inline %{
int vmmkpy_cloud_flavor_create(vmmk_flavor **out, vmmk_cloud *c, const char *id,
                               const char *name, int vcpus, uint64_t ram_mib, uint64_t disk_gib,
                               uint64_t ephemeral_gib, uint64_t swap_mib, bool is_public,
                               const vmmk_properties *extra_specs,
                               const char *const *projects, size_t n_projects)
{
    vmmk_flavor spec;
    memset(&spec, 0, sizeof spec);
    /* The spec is only read: the casts drop const for the struct's
     * owning member types, nothing writes through them. */
    spec.id = (char *)id;
    spec.name = (char *)name;
    spec.vcpus = vcpus;
    spec.ram_mib = ram_mib;
    spec.disk_gib = disk_gib;
    spec.ephemeral_gib = ephemeral_gib;
    spec.swap_mib = swap_mib;
    spec.is_public = is_public;
    if (extra_specs) {
        spec.extra_spec_keys = extra_specs->keys;
        spec.extra_spec_values = extra_specs->values;
        spec.n_extra_specs = extra_specs->n;
    }
    return vmmk_cloud_flavor_create(out, c, &spec, projects, n_projects);
}
%}

%feature("docstring") vmmkpy_cloud_server_create
"vmmkpy_cloud_server_create(cloud, name, flavor, volumes, ports, networks,
    security_groups, key_name, user_data, availability_zone, tags, metadata,
    delete_volumes_on_termination, config_drive) -> [rc, vmmk_cloud_server or None]

vmmk_cloud_server_create() with the vmmk_cloud_server_spec built here."

%inline %{
int vmmkpy_cloud_server_create(vmmk_cloud_server **out, vmmk_cloud *c, const char *name,
                               const char *flavor,
                               const char *const *volumes, size_t n_volumes,
                               const char *const *ports, size_t n_ports,
                               const char *const *networks, size_t n_networks,
                               const char *const *security_groups, size_t n_security_groups,
                               const char *key_name, const char *user_data,
                               const char *availability_zone,
                               const char *const *tags, size_t n_tags,
                               const vmmk_properties *metadata,
                               bool delete_volumes_on_termination, bool config_drive)
{
    vmmk_cloud_server_spec spec = VMMK_CLOUD_SERVER_CREATE_INIT;
    spec.name = name;
    spec.flavor = flavor;
    spec.volumes = volumes;
    spec.n_volumes = n_volumes;
    spec.ports = ports;
    spec.n_ports = n_ports;
    spec.networks = networks;
    spec.n_networks = n_networks;
    spec.security_groups = security_groups;
    spec.n_security_groups = n_security_groups;
    spec.key_name = key_name;
    spec.user_data = user_data;
    spec.availability_zone = availability_zone;
    spec.tags = tags;
    spec.n_tags = n_tags;
    spec.metadata = metadata;
    spec.delete_volumes_on_termination = delete_volumes_on_termination;
    spec.config_drive = config_drive;
    return vmmk_cloud_server_create(out, c, &spec);
}
%}

%feature("docstring") vmmkpy_cloud_volume_create
"vmmkpy_cloud_volume_create(cloud, name, size_gib, volume_type,
    availability_zone, description, metadata, image_metadata, bootable, wait,
    timeout) -> [rc, vmmk_cloud_volume or None]

vmmk_cloud_volume_create() with the vmmk_cloud_volume_spec built here."

%inline %{
int vmmkpy_cloud_volume_create(vmmk_cloud_volume **out, vmmk_cloud *c, const char *name,
                               uint64_t size_gib, const char *volume_type,
                               const char *availability_zone, const char *description,
                               const vmmk_properties *metadata,
                               const vmmk_properties *image_metadata, bool bootable, bool wait,
                               unsigned int timeout)
{
    vmmk_cloud_volume_spec spec = VMMK_CLOUD_VOLUME_CREATE_INIT;
    spec.name = name;
    spec.size_gib = size_gib;
    spec.volume_type = volume_type;
    spec.availability_zone = availability_zone;
    spec.description = description;
    spec.metadata = metadata;
    spec.image_metadata = image_metadata;
    spec.bootable = bootable;
    spec.wait = wait;
    spec.timeout = timeout;
    return vmmk_cloud_volume_create(out, c, &spec);
}
%}

%feature("docstring") vmmkpy_cloud_port_create
"vmmkpy_cloud_port_create(cloud, network, name, mac_address, fixed_ips,
    subnet, security_groups, tags, description, reuse)
    -> [rc, vmmk_cloud_port or None]

vmmk_cloud_port_create() with the vmmk_cloud_port_spec built here;
security_groups None means the project's default group, () none."

%inline %{
int vmmkpy_cloud_port_create(vmmk_cloud_port **out, vmmk_cloud *c, const char *network,
                             const char *name, const char *mac_address,
                             const char *const *fixed_ips, size_t n_fixed_ips,
                             const char *subnet,
                             const char *const *security_groups, size_t n_security_groups,
                             const char *const *tags, size_t n_tags, const char *description,
                             bool reuse)
{
    vmmk_cloud_port_spec spec = VMMK_CLOUD_PORT_CREATE_INIT;
    spec.network = network;
    spec.name = name;
    spec.mac_address = mac_address;
    spec.fixed_ips = fixed_ips;
    spec.n_fixed_ips = n_fixed_ips;
    spec.subnet = subnet;
    spec.security_groups = security_groups;
    spec.n_security_groups = n_security_groups;
    spec.tags = tags;
    spec.n_tags = n_tags;
    spec.description = description;
    spec.reuse = reuse;
    return vmmk_cloud_port_create(out, c, &spec);
}
%}

%feature("docstring") vmmkpy_cloud_image_create
"vmmkpy_cloud_image_create(cloud, name, disk_format, container_format,
    visibility, min_disk_gib, min_ram_mib, properties, tags)
    -> [rc, vmmk_cloud_image or None]

vmmk_cloud_image_create() with the vmmk_cloud_image_spec built here."

%inline %{
int vmmkpy_cloud_image_create(vmmk_cloud_image **out, vmmk_cloud *c, const char *name,
                              const char *disk_format, const char *container_format,
                              const char *visibility, uint64_t min_disk_gib,
                              uint64_t min_ram_mib, const vmmk_properties *properties,
                              const char *const *tags, size_t n_tags)
{
    vmmk_cloud_image_spec spec = VMMK_CLOUD_IMAGE_CREATE_INIT;
    spec.name = name;
    spec.disk_format = disk_format;
    spec.container_format = container_format;
    spec.visibility = visibility;
    spec.min_disk_gib = min_disk_gib;
    spec.min_ram_mib = min_ram_mib;
    spec.properties = properties;
    spec.tags = tags;
    spec.n_tags = n_tags;
    return vmmk_cloud_image_create(out, c, &spec);
}
%}

/* ------------------------------------------------------------------ */
/* Image upload from a Python reader. */

%{
/* What the reader trampoline needs; lives in vmmkpy_cloud_image_upload's
 * frame.  Both members are Python objects: touched only with the GIL. */
typedef struct vmmkpy_reader {
    PyObject *fill;       /* callable(memoryview) -> int */
    PyObject *error;      /* the exception it raised, or NULL */
} vmmkpy_reader;

/* The vmmk_cloud_reader of vmmkpy_cloud_image_upload.  The library calls
 * it on the thread that entered vmmk_cloud_image_upload with the GIL
 * released: take the GIL back for the Python call.  The callable gets a
 * writable memoryview over the library's buffer and returns how many
 * bytes it wrote (0 at the end).  The view is released before returning,
 * so Python cannot keep a window into C memory.  An exception (also a
 * signal's, such as Ctrl-C's KeyboardInterrupt) is kept and aborts the
 * upload; the reader is not called again. */
static ssize_t vmmkpy_reader_trampoline(void *payload, void *buf, size_t len)
{
    vmmkpy_reader *r = payload;
    ssize_t n = VMMK_ECANCELED;
    PyGILState_STATE gil = PyGILState_Ensure();

    if (!r->error && PyErr_CheckSignals() == 0) {
        PyObject *mv, *res = NULL;
        if (len > (size_t)PY_SSIZE_T_MAX)
            len = (size_t)PY_SSIZE_T_MAX;
        if ((mv = PyMemoryView_FromMemory(buf, (Py_ssize_t)len, PyBUF_WRITE))) {
            if (!(res = PyObject_CallOneArg(r->fill, mv)))
                r->error = vmmkpy_take_exception();
            PyObject *rel = PyObject_CallMethod(mv, "release", NULL);
            if (!rel) {
                /* A view exported from ours is still alive: the C buffer
                 * must not be reachable after this call, so stop here. */
                PyErr_Clear();
                if (!r->error)
                    PyErr_SetString(PyExc_BufferError,
                                    "upload reader: kept a view of the buffer beyond the call");
                Py_CLEAR(res);
            }
            Py_XDECREF(rel);
            Py_DECREF(mv);
        }
        if (res) {
            Py_ssize_t got = -1;
            if (!PyLong_Check(res))
                PyErr_Format(PyExc_TypeError, "upload reader: expected an int count, got %s",
                             Py_TYPE(res)->tp_name);
            else if ((got = PyLong_AsSsize_t(res)) == -1 && PyErr_Occurred())
                ; /* overflow: keep that error */
            else if (got < 0 || (size_t)got > len)
                PyErr_Format(PyExc_ValueError, "upload reader: returned %zd for a %zu-byte buffer",
                             got, len);
            else
                n = got;
            Py_DECREF(res);
        }
    }
    if (PyErr_Occurred()) {
        if (!r->error)
            r->error = vmmkpy_take_exception();
        else
            PyErr_Clear();     /* the first exception wins */
    }
    if (r->error)
        n = VMMK_ECANCELED;
    PyGILState_Release(gil);
    return n;
}
%}

%feature("docstring") vmmkpy_cloud_image_upload
"vmmkpy_cloud_image_upload(cloud, id, fill, size, timeout)
    -> (rc, exception or None)

vmmk_cloud_image_upload() with the GIL released, reading through
fill(memoryview) -> int: it writes up to len(view) bytes into the view and
returns their count, 0 at the end; it is called with the GIL held.  size
is the byte count, or -1 for chunked transfer.  The exception is what fill
(or a signal handler) raised, which aborted the upload; the caller
re-raises it."

%nothread vmmkpy_cloud_image_upload;
%inline %{
PyObject *vmmkpy_cloud_image_upload(vmmk_cloud *c, const char *id, PyObject *fill, int64_t size,
                                    unsigned int timeout)
{
    vmmkpy_reader r = { fill, NULL };
    PyObject *error;
    int rc;

    if (!PyCallable_Check(fill)) {
        PyErr_SetString(PyExc_TypeError, "fill must be callable");
        return NULL;
    }
    Py_INCREF(fill);
    Py_BEGIN_ALLOW_THREADS
    rc = vmmk_cloud_image_upload(c, id, vmmkpy_reader_trampoline, &r, size, timeout);
    Py_END_ALLOW_THREADS
    Py_DECREF(fill);
    error = r.error ? r.error : Py_None;
    if (!r.error)
        Py_INCREF(error);
    return Py_BuildValue("(iN)", rc, error);
}
%}

/* ------------------------------------------------------------------ */
/* Items of the resource lists, borrowed (valid while the list is). */

%define VMMKPY_LIST_AT(LIST, ITEM, NAME)
%feature("docstring") NAME
"(list, i) -> the borrowed item i of the list, None when out of range;
valid while the list is not freed."
%nothread NAME;
%inline %{
ITEM *NAME(const LIST *l, size_t i)
{
    return l && i < l->n ? &l->items[i] : NULL;
}
%}
%enddef

VMMKPY_LIST_AT(vmmk_flavor_list, vmmk_flavor, vmmkpy_flavor_list_at)
VMMKPY_LIST_AT(vmmk_cloud_volume_list, vmmk_cloud_volume, vmmkpy_volume_list_at)
VMMKPY_LIST_AT(vmmk_cloud_volume_type_list, vmmk_cloud_volume_type, vmmkpy_volume_type_list_at)
VMMKPY_LIST_AT(vmmk_cloud_network_list, vmmk_cloud_network, vmmkpy_network_list_at)
