/* A small, bounded YAML document tree over libyaml (internal).
 *
 * clouds.yaml and secure.yaml are read into this tree rather than walked as
 * events so that secure.yaml can be deep-merged over clouds.yaml and errors
 * can point at the line of the offending value.  Every scalar is kept as a
 * string (YAML tags are ignored): the configuration reader decides what a
 * value means.
 *
 * Bounds against hostile input: nesting depth VMMK__YAML_MAX_DEPTH and a
 * total of VMMK__YAML_MAX_NODES nodes per document, counted *after* alias
 * expansion, so a "billion laughs" document fails quickly with an error
 * instead of exhausting memory.  An alias that refers to one of its own
 * ancestors (a recursive structure) is refused.  The "<<" merge key is
 * honoured, as PyYAML (and so openstacksdk) honours it. */
#ifndef VMMK_CLOUD_YAML_H
#define VMMK_CLOUD_YAML_H

#include <stddef.h>

#define VMMK__YAML_MAX_DEPTH 64
#define VMMK__YAML_MAX_NODES 100000

typedef enum { VMMK__YAML_SCALAR, VMMK__YAML_MAP, VMMK__YAML_SEQ } vmmk__yaml_kind;

typedef struct vmmk__yaml_node vmmk__yaml_node;
struct vmmk__yaml_node {
    vmmk__yaml_kind kind;
    char *value;              /* SCALAR: the text (never NULL) */
    int is_null;              /* SCALAR: plain "", "~", "null", "Null", "NULL" */
    char **keys;              /* MAP: keys[i] names items[i] */
    vmmk__yaml_node **items;  /* MAP values, or SEQ entries */
    size_t n;
    const char *origin;       /* file the node came from; not owned */
    unsigned line, col;       /* 1-based position in that file */
};

/* Parse one YAML document.  @p origin (a file path, kept by pointer: it must
 * outlive the tree) names the source in error messages, which carry
 * "origin:line:col: ...".  An empty document gives an empty mapping.
 * Errors: VMMK_EPARSE (syntax, recursive alias, node/depth limit, a second
 * document, a non-scalar mapping key), VMMK_ENOMEM. */
int vmmk__yaml_parse(vmmk__yaml_node **out, const char *text, size_t len, const char *origin);

void vmmk__yaml_free(vmmk__yaml_node *node);

/* The value of @p key in mapping @p map, or NULL (also when @p map is NULL
 * or not a mapping). */
vmmk__yaml_node *vmmk__yaml_get(const vmmk__yaml_node *map, const char *key);

/* Merge @p over into @p base: mappings merge key by key, recursively; any
 * other value in @p over replaces the one in @p base.  @p over is consumed
 * (its nodes move into @p base or are freed). */
void vmmk__yaml_merge(vmmk__yaml_node *base, vmmk__yaml_node *over);

/* "mapping", "sequence" or "scalar", for error messages. */
const char *vmmk__yaml_kind_name(vmmk__yaml_kind kind);

#endif
