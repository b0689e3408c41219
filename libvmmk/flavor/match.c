/* Least-waste flavor matching (docs/flavor-matching.md).
 *
 * The reference implementation scored flavors by an unweighted L1 distance
 * over mixed units and so could pick a flavor smaller than the VM.  Here a
 * flavor is first required to meet every requirement; only then is waste
 * compared, with each dimension normalised by what the VM asked for. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "flavor_internal.h"

/* Weights of the waste terms; docs/flavor-matching.md gives the reasons. */
#define W_VCPUS 1.0
#define W_RAM 1.0
#define W_DISK 0.25
#define W_EPHEMERAL 0.1
#define W_SWAP 0.1
/* Unrequested ephemeral/swap is measured per GiB rather than divided by 0. */
#define EPHEMERAL_FLOOR_GIB 1u
#define SWAP_FLOOR_MIB 1024u
/* Waste values closer than this are equal, so that rounding in the sums
 * cannot make the pick depend on list order. */
#define WASTE_EPSILON 1e-9

/* The dimensions a flavor is measured on, in message order. */
enum { D_VCPUS, D_RAM, D_DISK, D_EPHEMERAL, D_SWAP, N_DIMS };

static const char *const dim_short[N_DIMS] = { "vCPUs", "RAM", "disk", "ephemeral disk", "swap" };
static const char *const dim_unit[N_DIMS] = { "", "MiB", "GiB", "GiB", "MiB" };

/* Why a flavor is not even considered, in the order checked. */
enum { EX_NONE, EX_DISABLED, EX_PRIVATE, EX_NAME, EX_SPEC, N_EX };

static const char *fname(const vmmk_flavor *f)
{
    return f->name ? f->name : "";
}

static uint64_t fval(const vmmk_flavor *f, int d)
{
    switch (d) {
    case D_VCPUS: return f->vcpus > 0 ? (uint64_t)f->vcpus : 0;
    case D_RAM: return f->ram_mib;
    case D_DISK: return f->disk_gib;
    case D_EPHEMERAL: return f->ephemeral_gib;
    default: return f->swap_mib;
    }
}

static uint64_t rval(const vmmk_flavor_requirements *r, int d)
{
    switch (d) {
    case D_VCPUS: return (uint64_t)r->vcpus;
    case D_RAM: return r->ram_mib;
    case D_DISK: return r->boot_from_volume ? 0 : r->disk_gib;
    case D_EPHEMERAL: return r->ephemeral_gib;
    default: return r->swap_mib;
    }
}

/* Whether a dimension constrains the match (and so appears in messages). */
static bool dim_active(const vmmk_flavor_requirements *r, int d)
{
    return rval(r, d) > 0;
}

/* "4 vCPUs", "8192 MiB RAM", "40 GiB disk", "1 GiB ephemeral disk". */
static void put_qty(vmmk__buf *b, int d, uint64_t v)
{
    if (d == D_VCPUS)
        vmmk__buf_printf(b, "%" PRIu64 " vCPU%s", v, v == 1 ? "" : "s");
    else
        vmmk__buf_printf(b, "%" PRIu64 " %s %s", v, dim_unit[d], dim_short[d]);
}

/* "m1.large (4 vCPUs, 8192 MiB RAM, 80 GiB disk)" with ephemeral and swap
 * only when the flavor has them, as most flavors do not. */
static void put_flavor(vmmk__buf *b, const vmmk_flavor *f)
{
    vmmk__buf_printf(b, "%s (", fname(f));
    for (int d = 0; d < N_DIMS; d++) {
        if (d > D_DISK && fval(f, d) == 0)
            continue;
        if (d)
            vmmk__buf_puts(b, ", ");
        put_qty(b, d, fval(f, d));
    }
    vmmk__buf_puts(b, ")");
}

/* ---- requirements ----------------------------------------------------- */

int vmmk_flavor_requirements_from_vm(vmmk_flavor_requirements *out, const vmmk_vm *vm)
{
    if (!out || !vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_requirements_from_vm: %s is NULL",
                         out ? "vm" : "out");
    const char *name = vm->name ? vm->name : "(unnamed)";
    if (vm->vcpus < 1 || vm->memory_mib < 1)
        return vmmk__err(VMMK_EINVAL, "VM \"%s\": %s must be >= 1", name,
                         vm->vcpus < 1 ? "vcpus" : "memory_mib");
    uint64_t disk = 0;
    if (vm->n_disks && vm->disks) {
        uint64_t bytes = vm->disks[0].capacity_bytes;
        /* Rounded up: a 40 GiB + 1 byte disk does not fit a 40 GiB root. */
        disk = (bytes >> 30) + ((bytes & ((UINT64_C(1) << 30) - 1)) != 0);
    } else if (!out->boot_from_volume) {
        return vmmk__err(VMMK_EINVAL, "VM \"%s\": has no disks, so there is no root disk to size; "
                                      "set boot_from_volume to match on vCPUs and RAM only", name);
    }
    out->vcpus = vm->vcpus;
    out->ram_mib = vm->memory_mib;
    out->disk_gib = disk;
    return 0;
}

static int check_requirements(const vmmk_flavor_requirements *r)
{
    if (r->version != VMMK_FLAVOR_REQUIREMENTS_VERSION)
        return vmmk__err(VMMK_EINVAL, "requirements.version: %u is not supported (expected %d; "
                                      "initialise with VMMK_FLAVOR_REQUIREMENTS_INIT)",
                         r->version, VMMK_FLAVOR_REQUIREMENTS_VERSION);
    if (r->vcpus < 1)
        return vmmk__err(VMMK_EINVAL, "requirements.vcpus: must be >= 1, got %" PRId32, r->vcpus);
    if (r->ram_mib < 1)
        return vmmk__err(VMMK_EINVAL, "requirements.ram_mib: must be >= 1, got 0");
    if (!r->boot_from_volume && r->disk_gib < 1)
        return vmmk__err(VMMK_EINVAL,
                         "requirements.disk_gib: must be >= 1 unless boot_from_volume is set, got 0");
    if (r->n_extra_specs && (!r->extra_spec_keys || !r->extra_spec_values))
        return vmmk__err(VMMK_EINVAL, "requirements.%s: NULL with n_extra_specs %zu",
                         !r->extra_spec_keys ? "extra_spec_keys" : "extra_spec_values",
                         r->n_extra_specs);
    for (size_t i = 0; i < r->n_extra_specs; i++) {
        if (!r->extra_spec_keys[i] || !r->extra_spec_values[i])
            return vmmk__err(VMMK_EINVAL, "requirements.%s[%zu]: NULL",
                             !r->extra_spec_keys[i] ? "extra_spec_keys" : "extra_spec_values", i);
        /* Two values for one key can never both hold. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->extra_spec_keys[j], r->extra_spec_keys[i]) == 0)
                return vmmk__err(VMMK_EINVAL,
                                 "requirements.extra_spec_keys[%zu]: \"%s\" is given at [%zu] too",
                                 i, r->extra_spec_keys[i], j);
    }
    return 0;
}

/* ---- eligibility, fit and waste --------------------------------------- */

static bool has_spec(const vmmk_flavor *f, const char *key, const char *value)
{
    for (size_t i = 0; f->extra_spec_keys && f->extra_spec_values && i < f->n_extra_specs; i++)
        if (f->extra_spec_keys[i] && strcmp(f->extra_spec_keys[i], key) == 0)
            return f->extra_spec_values[i] && strcmp(f->extra_spec_values[i], value) == 0;
    return false;
}

static int exclusion(const vmmk_flavor *f, const vmmk_flavor_requirements *r)
{
    if (f->disabled)
        return EX_DISABLED;
    if (!f->is_public && !r->include_private)
        return EX_PRIVATE;
    if (r->name_filter && fnmatch(r->name_filter, fname(f), 0) != 0)
        return EX_NAME;
    for (size_t i = 0; i < r->n_extra_specs; i++)
        if (!has_spec(f, r->extra_spec_keys[i], r->extra_spec_values[i]))
            return EX_SPEC;
    return EX_NONE;
}

/* Bit d set when the flavor is short in dimension d. */
static unsigned shortfalls(const vmmk_flavor *f, const vmmk_flavor_requirements *r)
{
    unsigned m = 0;
    for (int d = 0; d < N_DIMS; d++)
        if (dim_active(r, d) && fval(f, d) < rval(r, d))
            m |= 1u << d;
    return m;
}

static double excess(uint64_t have, uint64_t want, uint64_t floor)
{
    return (double)(have - want) / (double)(want > floor ? want : floor);
}

/* Only called for flavors that fit, so every difference is >= 0. */
static double waste_of(const vmmk_flavor *f, const vmmk_flavor_requirements *r)
{
    double w = W_VCPUS * excess(fval(f, D_VCPUS), rval(r, D_VCPUS), 1) +
               W_RAM * excess(f->ram_mib, r->ram_mib, 1);
    if (!r->boot_from_volume)
        w += W_DISK * excess(f->disk_gib, r->disk_gib, 1);
    w += W_EPHEMERAL * excess(f->ephemeral_gib, r->ephemeral_gib, EPHEMERAL_FLOOR_GIB);
    w += W_SWAP * excess(f->swap_mib, r->swap_mib, SWAP_FLOOR_MIB);
    return w;
}

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* Smaller flavors first, then by name and id: a total order (ids are
 * unique), so no decision ever depends on the order of the list. */
static int cmp_shape(const vmmk_flavor *a, const vmmk_flavor *b)
{
    for (int d = 0; d < N_DIMS; d++)
        if (fval(a, d) != fval(b, d))
            return fval(a, d) < fval(b, d) ? -1 : 1;
    int c = cmp_str(a->name, b->name);
    return c ? c : cmp_str(a->id, b->id);
}

static int cmp_pick(const vmmk_flavor *a, double wa, const vmmk_flavor *b, double wb)
{
    if (wa < wb - WASTE_EPSILON)
        return -1;
    if (wa > wb + WASTE_EPSILON)
        return 1;
    return cmp_shape(a, b);
}

/* ---- reasons ---------------------------------------------------------- */

/* "4 vCPUs, 8192 MiB RAM, 40 GiB disk" (or ", boot from volume"). */
static void put_requirements(vmmk__buf *b, const vmmk_flavor_requirements *r)
{
    for (int d = 0; d < N_DIMS; d++) {
        if (d == D_DISK && r->boot_from_volume) {
            vmmk__buf_puts(b, ", boot from volume");
            continue;
        }
        if (!dim_active(r, d))
            continue;
        if (d)
            vmmk__buf_puts(b, ", ");
        put_qty(b, d, rval(r, d));
    }
}

static void put_pick(vmmk__buf *b, const vmmk_flavor *f, size_t n_candidates,
                     const vmmk_flavor_requirements *r)
{
    put_flavor(b, f);
    if (n_candidates == 1)
        vmmk__buf_puts(b, " is the only flavor that fits ");
    else
        vmmk__buf_printf(b, " is the closest of %zu flavors that fit ", n_candidates);
    put_requirements(b, r);
}

/* "none of the 8 flavors is usable: 1 disabled, 1 private (...), ..." */
static void put_unusable(vmmk__buf *b, size_t n, const size_t count[N_EX],
                         const vmmk_flavor_requirements *r)
{
    const char *sep = "";
    vmmk__buf_printf(b, "none of the %zu flavor%s is usable: ", n, n == 1 ? "" : "s");
    if (count[EX_DISABLED]) {
        vmmk__buf_printf(b, "%zu disabled", count[EX_DISABLED]);
        sep = ", ";
    }
    if (count[EX_PRIVATE]) {
        vmmk__buf_printf(b, "%s%zu private (include_private not set)", sep, count[EX_PRIVATE]);
        sep = ", ";
    }
    if (count[EX_NAME]) {
        vmmk__buf_printf(b, "%s%zu %s not match name filter \"%s\"", sep, count[EX_NAME],
                         count[EX_NAME] == 1 ? "does" : "do", r->name_filter);
        sep = ", ";
    }
    if (count[EX_SPEC]) {
        vmmk__buf_printf(b, "%s%zu %s %s", sep, count[EX_SPEC], count[EX_SPEC] == 1 ? "lacks" : "lack",
                         r->n_extra_specs == 1 ? "extra spec" : "one of the extra specs");
        for (size_t i = 0; i < r->n_extra_specs; i++)
            vmmk__buf_printf(b, "%s%s=%s", i ? ", " : " ", r->extra_spec_keys[i],
                             r->extra_spec_values[i]);
    }
}

/* Per dimension: "no flavor has >= 100 GiB disk; the largest is m1.large
 * with 80 GiB".  Returns false when every dimension is met by someone. */
static bool put_unmet(vmmk__buf *b, const vmmk_flavor_list *list, const int *ex,
                      const vmmk_flavor_requirements *r)
{
    bool any = false;
    for (int d = 0; d < N_DIMS; d++) {
        if (!dim_active(r, d))
            continue;
        const vmmk_flavor *big = NULL;
        for (size_t i = 0; i < list->n; i++) {
            const vmmk_flavor *f = &list->items[i];
            if (ex[i] != EX_NONE)
                continue;
            /* Among equally large ones name the smallest overall, so the
             * message does not change with list order. */
            if (!big || fval(f, d) > fval(big, d) ||
                (fval(f, d) == fval(big, d) && cmp_shape(f, big) < 0))
                big = f;
        }
        if (!big || fval(big, d) >= rval(r, d))
            continue;
        vmmk__buf_puts(b, any ? "; no flavor has >= " : "no flavor has >= ");
        put_qty(b, d, rval(r, d));
        if (fval(big, d) == 0) {
            /* Naming one of many flavors that all lack it would mislead. */
            vmmk__buf_printf(b, "; all have 0 %s", d == D_VCPUS ? "vCPUs" : dim_unit[d]);
            if (d == D_DISK)
                vmmk__buf_puts(b, " (disk 0 means the size of the image, which suits only boot "
                                  "from volume)");
        } else {
            vmmk__buf_printf(b, "; the largest is %s with ", fname(big));
            if (d == D_VCPUS)
                put_qty(b, d, fval(big, d));
            else
                vmmk__buf_printf(b, "%" PRIu64 " %s", fval(big, d), dim_unit[d]);
        }
        any = true;
    }
    return any;
}

/* Relative shortfall summed over the dimensions a flavor misses. */
static double shortfall_size(const vmmk_flavor *f, const vmmk_flavor_requirements *r)
{
    double s = 0;
    for (int d = 0; d < N_DIMS; d++)
        if (dim_active(r, d) && fval(f, d) < rval(r, d))
            s += (double)(rval(r, d) - fval(f, d)) / (double)rval(r, d);
    return s;
}

static int popcount(unsigned m)
{
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

/* Each requirement is met by some flavor, but never all by one: say so,
 * and name the flavor that misses the fewest, by the least. */
static void put_not_together(vmmk__buf *b, const vmmk_flavor_list *list, const int *ex,
                             const vmmk_flavor_requirements *r)
{
    int n_active = 0, k = 0;
    for (int d = 0; d < N_DIMS; d++)
        n_active += dim_active(r, d);
    vmmk__buf_puts(b, "no single flavor has ");
    for (int d = 0; d < N_DIMS; d++) {
        if (!dim_active(r, d))
            continue;
        if (k)
            vmmk__buf_puts(b, k == n_active - 1 ? " and " : ", ");
        vmmk__buf_puts(b, ">= ");
        put_qty(b, d, rval(r, d));
        k++;
    }
    vmmk__buf_puts(b, " together");

    const vmmk_flavor *near = NULL;
    int near_miss = 0;
    double near_size = 0;
    for (size_t i = 0; i < list->n; i++) {
        const vmmk_flavor *f = &list->items[i];
        if (ex[i] != EX_NONE)
            continue;
        int miss = popcount(shortfalls(f, r));
        double size = shortfall_size(f, r);
        if (!near || miss < near_miss ||
            (miss == near_miss && cmp_pick(f, size, near, near_size) < 0)) {
            near = f;
            near_miss = miss;
            near_size = size;
        }
    }
    if (!near)
        return;
    unsigned m = shortfalls(near, r);
    vmmk__buf_puts(b, "; the nearest is ");
    put_flavor(b, near);
    vmmk__buf_puts(b, ", which falls short on ");
    k = 0;
    for (int d = 0; d < N_DIMS; d++) {
        if (!(m & (1u << d)))
            continue;
        if (k)
            vmmk__buf_puts(b, k == near_miss - 1 ? " and " : ", ");
        vmmk__buf_puts(b, dim_short[d]);
        k++;
    }
}

/* ---- proposal --------------------------------------------------------- */

static int cmp_spec_index(const void *a, const void *b, void *payload)
{
    const char *const *keys = payload;
    return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

/* The smallest flavor that would fit exactly, for the operator to create.
 * The id is left NULL so that Nova assigns one (its create call takes
 * "id": null); the name says the shape, so equal VMs share a proposal. */
static int make_proposal(vmmk_flavor **out, const vmmk_flavor_requirements *r)
{
    *out = NULL;
    vmmk_flavor *p = calloc(1, sizeof *p);
    size_t *order = NULL;
    char *raw = NULL;
    if (!p)
        goto nomem;
    p->vcpus = r->vcpus;
    p->ram_mib = r->ram_mib;
    p->disk_gib = r->boot_from_volume ? 0 : r->disk_gib;
    p->ephemeral_gib = r->ephemeral_gib;
    p->swap_mib = r->swap_mib;
    p->is_public = true;
    if (r->boot_from_volume)
        raw = vmmk__asprintf("vmmk-%" PRId32 "vcpu-%" PRIu64 "mb-bfv", r->vcpus, r->ram_mib);
    else
        raw = vmmk__asprintf("vmmk-%" PRId32 "vcpu-%" PRIu64 "mb-%" PRIu64 "gb", r->vcpus,
                             r->ram_mib, r->disk_gib);
    if (!raw)
        goto nomem;
    int rc = vmmk_name_sanitize(&p->name, raw, 0);
    free(raw);
    if (rc) {
        vmmk_flavor_free(p);
        return rc;
    }
    size_t n = r->n_extra_specs;
    if (n) {
        order = malloc(n * sizeof *order);
        p->extra_spec_keys = calloc(n, sizeof *p->extra_spec_keys);
        p->extra_spec_values = calloc(n, sizeof *p->extra_spec_values);
        if (!order || !p->extra_spec_keys || !p->extra_spec_values)
            goto nomem;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        /* vmmk_flavor promises extra specs sorted by key. */
        qsort_r(order, n, sizeof *order, cmp_spec_index, (void *)r->extra_spec_keys);
        for (size_t i = 0; i < n; i++) {
            p->n_extra_specs++;
            p->extra_spec_keys[i] = strdup(r->extra_spec_keys[order[i]]);
            p->extra_spec_values[i] = strdup(r->extra_spec_values[order[i]]);
            if (!p->extra_spec_keys[i] || !p->extra_spec_values[i])
                goto nomem;
        }
    }
    free(order);
    *out = p;
    return 0;
nomem:
    free(order);
    vmmk_flavor_free(p);
    return vmmk__err(VMMK_ENOMEM, "out of memory proposing a flavor");
}

/* ---- matching --------------------------------------------------------- */

void vmmk_flavor_choice_free(vmmk_flavor_choice *choice)
{
    if (!choice)
        return;
    vmmk_flavor_free(choice->flavor);
    vmmk_flavor_free(choice->proposal);
    free(choice->reason);
    free(choice);
}

/* Nothing fits: explain at the first level that fails (the list, the
 * filters, one requirement, or their combination). */
static char *explain_no_fit(const vmmk_flavor_list *list, const int *ex, size_t n_eligible,
                            const size_t count[N_EX], const vmmk_flavor_requirements *r)
{
    vmmk__buf b = { 0 };
    if (list->n == 0)
        vmmk__buf_puts(&b, "the flavor list is empty");
    else if (n_eligible == 0)
        put_unusable(&b, list->n, count, r);
    else if (!put_unmet(&b, list, ex, r))
        put_not_together(&b, list, ex, r);
    return vmmk__buf_take(&b);
}

int vmmk_flavor_match(vmmk_flavor_choice **out, const vmmk_flavor_list *flavors,
                      const vmmk_flavor_requirements *req)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_match: out is NULL");
    *out = NULL;
    if (!flavors || !req)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_match: %s is NULL",
                         flavors ? "requirements" : "flavors");
    if (flavors->n && !flavors->items)
        return vmmk__err(VMMK_EINVAL, "flavors: count %zu without entries", flavors->n);
    int rc = check_requirements(req);
    if (rc)
        return rc;

    vmmk_flavor_choice *m = calloc(1, sizeof *m);
    int *ex = calloc(flavors->n ? flavors->n : 1, sizeof *ex);
    if (!m || !ex) {
        free(ex);
        free(m);
        return vmmk__err(VMMK_ENOMEM, "out of memory matching flavors");
    }
    size_t count[N_EX] = { 0 }, n_candidates = 0;
    const vmmk_flavor *best = NULL;
    double best_waste = 0;
    for (size_t i = 0; i < flavors->n; i++) {
        const vmmk_flavor *f = &flavors->items[i];
        ex[i] = exclusion(f, req);
        count[ex[i]]++;
        if (ex[i] != EX_NONE || shortfalls(f, req))
            continue;
        n_candidates++;
        double w = waste_of(f, req);
        if (!best || cmp_pick(f, w, best, best_waste) < 0) {
            best = f;
            best_waste = w;
        }
    }

    if (best) {
        vmmk__buf b = { 0 };
        put_pick(&b, best, n_candidates, req);
        m->reason = vmmk__buf_take(&b);
        m->waste = best_waste;
        m->n_candidates = n_candidates;
        rc = m->reason ? vmmk__flavor_dup(&m->flavor, best)
                       : vmmk__err(VMMK_ENOMEM, "out of memory matching flavors");
        if (!rc)
            vmmk__log(VMMK_LOG_INFO, "flavor match: %s (waste %.3f)", m->reason, best_waste);
    } else {
        m->reason = explain_no_fit(flavors, ex, count[EX_NONE], count, req);
        rc = m->reason ? make_proposal(&m->proposal, req)
                       : vmmk__err(VMMK_ENOMEM, "out of memory matching flavors");
        /* Recorded last, so that the thread's error is the reason itself. */
        if (!rc) {
            vmmk__log(VMMK_LOG_INFO, "flavor match: %s; proposing %s", m->reason, m->proposal->name);
            rc = vmmk__err(VMMK_ENOFIT, "%s", m->reason);
        }
    }
    free(ex);
    if (rc && rc != VMMK_ENOFIT) {
        vmmk_flavor_choice_free(m);
        return rc;
    }
    *out = m;
    return rc;
}

/* "%.6f" without trailing zeros: waste is a ratio, and json-c's default
 * 17 digits would print 0.30000000000000004. */
static json_object *new_waste(double w)
{
    char s[64];
    snprintf(s, sizeof s, "%.6f", w);
    size_t n = strlen(s);
    while (n > 2 && s[n - 1] == '0' && s[n - 2] != '.')
        s[--n] = '\0';
    return json_object_new_double_s(w, s);
}

int vmmk_flavor_choice_to_json(char **out, const vmmk_flavor_choice *choice, unsigned flags)
{
    if (!out || !choice)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_choice_to_json: %s is NULL",
                         out ? "choice" : "out");
    *out = NULL;
    json_object *o = json_object_new_object(), *v = NULL;
    int rc = 0;
    if (!o)
        return vmmk__err(VMMK_ENOMEM, "out of memory writing choice JSON");
    if (choice->flavor && (rc = vmmk__flavor_to_object(&v, choice->flavor)))
        goto fail;
    if (json_object_object_add(o, "flavor", v))
        goto nomem_v;
    if (vmmk__json_add_string(o, "reason", choice->reason))
        goto nomem;
    v = new_waste(choice->waste);
    if (!v || json_object_object_add(o, "waste", v))
        goto nomem_v;
    v = json_object_new_int64((int64_t)choice->n_candidates);
    if (!v || json_object_object_add(o, "candidates", v))
        goto nomem_v;
    v = NULL;
    if (choice->proposal && (rc = vmmk__flavor_to_object(&v, choice->proposal)))
        goto fail;
    if (json_object_object_add(o, "proposal", v))
        goto nomem_v;
    char *s = vmmk__json_dump(o, flags);
    json_object_put(o);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory writing choice JSON");
    *out = s;
    return 0;
nomem_v:
    json_object_put(v);
nomem:
    rc = vmmk__err(VMMK_ENOMEM, "out of memory writing choice JSON");
fail:
    json_object_put(o);
    return rc;
}
