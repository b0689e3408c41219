/* YAML document tree over libyaml's event parser (see yaml.h). */
#include "yaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../common/internal.h"

typedef struct {
    char *name;
    vmmk__yaml_node *node;
    int done;                 /* 0 while the anchored collection is still open */
} anchor;

typedef struct {
    yaml_parser_t p;
    const char *origin;
    size_t nodes;
    anchor *anchors;
    size_t n_anchors;
    /* Nodes taken out of the tree (replaced duplicate keys, "<<" sources)
     * that an anchor may still point at; freed with the parse. */
    vmmk__yaml_node **grave;
    size_t n_grave;
} pctx;

const char *vmmk__yaml_kind_name(vmmk__yaml_kind kind)
{
    return kind == VMMK__YAML_MAP ? "mapping" : kind == VMMK__YAML_SEQ ? "sequence" : "scalar";
}

void vmmk__yaml_free(vmmk__yaml_node *node)
{
    if (!node)
        return;
    free(node->value);
    for (size_t i = 0; i < node->n; i++) {
        if (node->keys)
            free(node->keys[i]);
        vmmk__yaml_free(node->items[i]);
    }
    free(node->keys);
    free(node->items);
    free(node);
}

vmmk__yaml_node *vmmk__yaml_get(const vmmk__yaml_node *map, const char *key)
{
    if (!map || map->kind != VMMK__YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

static int at(pctx *c, yaml_mark_t m, const char *what)
{
    return vmmk__err(VMMK_EPARSE, "%s:%zu:%zu: %s", c->origin, m.line + 1, m.column + 1, what);
}

static int syntax_error(pctx *c)
{
    const yaml_parser_t *p = &c->p;
    if (p->error == YAML_MEMORY_ERROR)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory parsing YAML", c->origin);
    yaml_mark_t m = p->problem_mark;
    return vmmk__err(VMMK_EPARSE, "%s:%zu:%zu: YAML syntax error: %s%s%s%s", c->origin,
                     m.line + 1, m.column + 1, p->problem ? p->problem : "unknown problem",
                     p->context ? " (" : "", p->context ? p->context : "", p->context ? ")" : "");
}

static int next(pctx *c, yaml_event_t *ev)
{
    return yaml_parser_parse(&c->p, ev) ? 0 : syntax_error(c);
}

static int new_node(pctx *c, vmmk__yaml_node **out, vmmk__yaml_kind kind, yaml_mark_t m)
{
    if (++c->nodes > VMMK__YAML_MAX_NODES)
        return at(c, m, "document has more than 100000 nodes (after expanding aliases)");
    vmmk__yaml_node *n = calloc(1, sizeof *n);
    if (!n)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    n->kind = kind;
    n->origin = c->origin;
    n->line = (unsigned)m.line + 1;
    n->col = (unsigned)m.column + 1;
    *out = n;
    return 0;
}

/* Append to a mapping (key may be NULL for a sequence).  Takes ownership
 * of key and item, also on failure. */
static int append(vmmk__yaml_node *to, char *key, vmmk__yaml_node *item)
{
    vmmk__yaml_node **items = realloc(to->items, (to->n + 1) * sizeof *items);
    if (items)
        to->items = items;
    char **keys = to->kind == VMMK__YAML_MAP ? realloc(to->keys, (to->n + 1) * sizeof *keys) : NULL;
    if (keys)
        to->keys = keys;
    if (!items || (to->kind == VMMK__YAML_MAP && !keys)) {
        free(key);
        vmmk__yaml_free(item);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    if (keys)
        to->keys[to->n] = key;
    to->items[to->n++] = item;
    return 0;
}

static int bury(pctx *c, vmmk__yaml_node *n)
{
    vmmk__yaml_node **g = realloc(c->grave, (c->n_grave + 1) * sizeof *g);
    if (!g) {
        vmmk__yaml_free(n);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    c->grave = g;
    c->grave[c->n_grave++] = n;
    return 0;
}

/* Deep copy for an alias, counted against the node budget. */
static int copy(pctx *c, vmmk__yaml_node **out, const vmmk__yaml_node *src, yaml_mark_t m,
                int depth)
{
    if (depth > VMMK__YAML_MAX_DEPTH)
        return at(c, m, "nesting deeper than 64 levels (after expanding aliases)");
    vmmk__yaml_node *n;
    int rc = new_node(c, &n, src->kind, m);
    if (rc)
        return rc;
    n->origin = src->origin;
    n->line = src->line;
    n->col = src->col;
    n->is_null = src->is_null;
    if (src->value && !(n->value = strdup(src->value))) {
        vmmk__yaml_free(n);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < src->n; i++) {
        vmmk__yaml_node *item;
        char *key = NULL;
        if ((rc = copy(c, &item, src->items[i], m, depth + 1)))
            break;
        if (src->keys && !(key = strdup(src->keys[i]))) {
            vmmk__yaml_free(item);
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            break;
        }
        if ((rc = append(n, key, item)))
            break;
    }
    if (rc) {
        vmmk__yaml_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int add_anchor(pctx *c, const yaml_char_t *name, vmmk__yaml_node *node, int done)
{
    if (!name)
        return 0;
    /* A redefined anchor shadows the earlier one from here on. */
    anchor *a = realloc(c->anchors, (c->n_anchors + 1) * sizeof *a);
    if (!a)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    c->anchors = a;
    if (!(a[c->n_anchors].name = strdup((const char *)name)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    a[c->n_anchors].node = node;
    a[c->n_anchors].done = done;
    c->n_anchors++;
    return 0;
}

static anchor *find_anchor(pctx *c, const char *name)
{
    for (size_t i = c->n_anchors; i > 0; i--)
        if (strcmp(c->anchors[i - 1].name, name) == 0)
            return &c->anchors[i - 1];
    return NULL;
}

static int parse_node(pctx *c, yaml_event_t *ev, vmmk__yaml_node **out, int depth);

/* Apply the "<<" sources collected for @p map: their keys fill in what the
 * mapping does not set itself; earlier sources win over later ones. */
static int apply_merges(pctx *c, vmmk__yaml_node *map, vmmk__yaml_node **src, size_t n_src,
                        int depth)
{
    for (size_t s = 0; s < n_src; s++) {
        vmmk__yaml_node *from = src[s];
        for (size_t i = 0; i < from->n; i++) {
            if (vmmk__yaml_get(map, from->keys[i]))
                continue;
            vmmk__yaml_node *item;
            yaml_mark_t m = { 0, from->line ? from->line - 1 : 0, from->col ? from->col - 1 : 0 };
            int rc = copy(c, &item, from->items[i], m, depth + 1);
            if (rc)
                return rc;
            char *key = strdup(from->keys[i]);
            if (!key) {
                vmmk__yaml_free(item);
                return vmmk__err(VMMK_ENOMEM, "out of memory");
            }
            if ((rc = append(map, key, item)))
                return rc;
        }
    }
    return 0;
}

static int parse_mapping(pctx *c, vmmk__yaml_node *map, int depth)
{
    vmmk__yaml_node **merges = NULL;
    size_t n_merges = 0;
    int rc = 0;
    for (;;) {
        yaml_event_t kev;
        if ((rc = next(c, &kev)))
            break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = at(c, kev.start_mark, "mapping keys must be plain strings");
            yaml_event_delete(&kev);
            break;
        }
        int merge_key = kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                        strcmp((const char *)kev.data.scalar.value, "<<") == 0;
        char *key = strndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
        yaml_event_delete(&kev);
        if (!key) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            break;
        }
        yaml_event_t vev;
        vmmk__yaml_node *val;
        if ((rc = next(c, &vev))) {
            free(key);
            break;
        }
        if ((rc = parse_node(c, &vev, &val, depth + 1))) {
            free(key);
            break;
        }
        if (merge_key) {
            free(key);
            /* "<<: *a" or "<<: [*a, *b]": collect the mappings, apply at the end. */
            size_t k = val->kind == VMMK__YAML_SEQ ? val->n : 1;
            for (size_t i = 0; i < k && !rc; i++) {
                vmmk__yaml_node *m = val->kind == VMMK__YAML_SEQ ? val->items[i] : val;
                if (m->kind != VMMK__YAML_MAP) {
                    rc = vmmk__err(VMMK_EPARSE, "%s:%u:%u: \"<<\" needs a mapping or a list of mappings",
                                   c->origin, m->line, m->col);
                    break;
                }
                vmmk__yaml_node **nm = realloc(merges, (n_merges + 1) * sizeof *nm);
                if (!nm) {
                    rc = vmmk__err(VMMK_ENOMEM, "out of memory");
                    break;
                }
                merges = nm;
                merges[n_merges++] = m;
            }
            int brc = bury(c, val);
            if (rc || (rc = brc))
                break;
            continue;
        }
        /* A repeated key: the last one wins, as in PyYAML. */
        size_t i;
        for (i = 0; i < map->n; i++)
            if (strcmp(map->keys[i], key) == 0)
                break;
        if (i < map->n) {
            free(key);
            vmmk__yaml_node *old = map->items[i];
            map->items[i] = val;
            if ((rc = bury(c, old)))
                break;
        } else if ((rc = append(map, key, val))) {
            break;
        }
    }
    if (!rc)
        rc = apply_merges(c, map, merges, n_merges, depth);
    free(merges);
    return rc;
}

static int parse_node(pctx *c, yaml_event_t *ev, vmmk__yaml_node **out, int depth)
{
    int rc = 0;
    vmmk__yaml_node *n = NULL;
    yaml_mark_t m = ev->start_mark;
    if (depth > VMMK__YAML_MAX_DEPTH) {
        rc = at(c, m, "nesting deeper than 64 levels");
        goto done;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        anchor *a = find_anchor(c, (const char *)ev->data.alias.anchor);
        if (!a)
            rc = at(c, m, "alias to an undefined anchor");
        else if (!a->done)
            rc = at(c, m, "recursive alias (an anchor used inside itself)");
        else
            rc = copy(c, &n, a->node, m, depth);
        break;
    }
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (memchr(v, '\0', len)) {
            rc = at(c, m, "a value contains a NUL character");
            break;
        }
        if ((rc = new_node(c, &n, VMMK__YAML_SCALAR, m)))
            break;
        if (!(n->value = strndup(v, len))) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            break;
        }
        n->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                     (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
                      !strcmp(v, "NULL"));
        rc = add_anchor(c, ev->data.scalar.anchor, n, 1);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
        if ((rc = new_node(c, &n, VMMK__YAML_SEQ, m)))
            break;
        if ((rc = add_anchor(c, ev->data.sequence_start.anchor, n, 0)))
            break;
        for (;;) {
            yaml_event_t iev;
            vmmk__yaml_node *item;
            if ((rc = next(c, &iev)))
                break;
            if (iev.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&iev);
                break;
            }
            if ((rc = parse_node(c, &iev, &item, depth + 1)) || (rc = append(n, NULL, item)))
                break;
        }
        if (!rc && ev->data.sequence_start.anchor)
            find_anchor(c, (const char *)ev->data.sequence_start.anchor)->done = 1;
        break;
    case YAML_MAPPING_START_EVENT:
        if ((rc = new_node(c, &n, VMMK__YAML_MAP, m)))
            break;
        if ((rc = add_anchor(c, ev->data.mapping_start.anchor, n, 0)))
            break;
        rc = parse_mapping(c, n, depth);
        if (!rc && ev->data.mapping_start.anchor)
            find_anchor(c, (const char *)ev->data.mapping_start.anchor)->done = 1;
        break;
    default:
        rc = at(c, m, "unexpected YAML event");
        break;
    }
done:
    yaml_event_delete(ev);
    if (rc) {
        /* An anchor may point into @n; the caller's cleanup frees anchors
         * by name only, so freeing the node here is safe. */
        vmmk__yaml_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int vmmk__yaml_parse(vmmk__yaml_node **out, const char *text, size_t len, const char *origin)
{
    if (!out || !text || !origin)
        return vmmk__err(VMMK_EINVAL, "vmmk__yaml_parse: NULL argument");
    *out = NULL;
    pctx c = { .origin = origin };
    if (!yaml_parser_initialize(&c.p))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    vmmk__yaml_node *root = NULL;
    int rc = 0;
    yaml_event_t ev;
    int seen_doc = 0;
    for (;;) {
        if ((rc = next(&c, &ev)))
            break;
        yaml_event_type_t t = ev.type;
        yaml_mark_t m = ev.start_mark;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && seen_doc) {
            yaml_event_delete(&ev);
            rc = at(&c, m, "more than one YAML document");
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT)
            seen_doc = 1;
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            if ((rc = parse_node(&c, &ev, &root, 0)))
                break;
            continue;
        }
        yaml_event_delete(&ev);
    }
    for (size_t i = 0; i < c.n_anchors; i++)
        free(c.anchors[i].name);
    free(c.anchors);
    for (size_t i = 0; i < c.n_grave; i++)
        vmmk__yaml_free(c.grave[i]);
    free(c.grave);
    yaml_parser_delete(&c.p);
    if (rc) {
        vmmk__yaml_free(root);
        return rc;
    }
    if (!root || (root->kind == VMMK__YAML_SCALAR && root->is_null)) {
        /* An empty document is an empty mapping. */
        vmmk__yaml_free(root);
        yaml_mark_t m = { 0, 0, 0 };
        c.nodes = 0;
        if ((rc = new_node(&c, &root, VMMK__YAML_MAP, m)))
            return rc;
    }
    *out = root;
    return 0;
}

void vmmk__yaml_merge(vmmk__yaml_node *base, vmmk__yaml_node *over)
{
    if (!over)
        return;
    if (base->kind != VMMK__YAML_MAP || over->kind != VMMK__YAML_MAP) {
        /* Replace base's contents with over's. */
        vmmk__yaml_node tmp = *base;
        *base = *over;
        *over = tmp;
        vmmk__yaml_free(over);
        return;
    }
    for (size_t i = 0; i < over->n; i++) {
        size_t j;
        for (j = 0; j < base->n; j++)
            if (strcmp(base->keys[j], over->keys[i]) == 0)
                break;
        if (j < base->n) {
            vmmk__yaml_merge(base->items[j], over->items[i]);
            free(over->keys[i]);
        } else if (append(base, over->keys[i], over->items[i])) {
            /* Out of memory: append freed the entry; the merge is partial. */
        }
        over->keys[i] = NULL;
        over->items[i] = NULL;
    }
    over->n = 0;
    vmmk__yaml_free(over);
}
