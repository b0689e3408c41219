/* libFuzzer target: the SOAP response parser, fed the bytes as a reply to
 * RetrieveProperties with HTTP 200 and with 500, and the helpers walking
 * whatever it accepts; then the same bytes escaped into a request and
 * parsed back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

#include "common/internal.h"
#include "vsphere/soap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define METHOD "RetrieveProperties"

/* Every failure is recorded, with its code, and names the method. */
static void check_error(int rc)
{
    const vmmk_error *e = vmmk_error_last();
    if (rc >= 0 || e->code != rc || !e->message || strncmp(e->message, METHOD, strlen(METHOD)) != 0)
        abort();
}

/* Each helper on each element; the lookups by name use "any" (NULL) so
 * that the walk stays linear in the document size. */
static void walk(xmlNodePtr node)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        free(vmmk__xml_type(c));
        free(vmmk__xml_attr(c, "type"));
        char *path = vmmk__xml_path(c);
        if (!path)
            abort();
        free(path);
        long long v;
        bool b, present;
        int rc = vmmk__xml_child_int64(c, NULL, &v, &present);
        if (rc != 0 && rc != VMMK_EPARSE)
            abort();
        rc = vmmk__xml_child_bool(c, NULL, &b, &present);
        if (rc != 0 && rc != VMMK_EPARSE)
            abort();
        if (vmmk__xml_child(c, "fault")) {
            rc = vmmk__soap_localized_fault(c, METHOD);
            check_error(rc);
        }
        walk(c);
    }
}

static void parse_as(const uint8_t *data, size_t size, long status)
{
    vmmk__soap_response r;
    int rc = vmmk__soap_parse(&r, METHOD, (const char *)data, size, status);
    if (rc != 0) {
        check_error(rc);
        if (r.doc || r.body)
            abort();
        if (vmmk_error_last()->http_status != status)
            abort();
        return;
    }
    /* success only for a 2xx reply, with a body element */
    if (status != 200 || !r.doc || !r.body || r.body->type != XML_ELEMENT_NODE)
        abort();
    rc = vmmk__soap_missing_set_fault(r.body, METHOD, status);
    if (rc != 0)
        check_error(rc);
    walk(r.body);
    vmmk__soap_response_clear(&r);
}

/* Escaped text always makes a well-formed request, and text that
 * vmmk__xml_escape_strict accepts comes back unchanged. */
static void round_trip(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<" METHOD " xmlns=\"urn:vim25\"><x a=\"");
    vmmk__xml_escape(&b, text);
    vmmk__buf_puts(&b, "\">");
    vmmk__buf strict = { 0 };
    bool exact = vmmk__xml_escape_strict(&strict, text, "fuzz") == 0;
    vmmk__buf_free(&strict);
    vmmk__xml_escape(&b, text);
    vmmk__buf_puts(&b, "</x></" METHOD ">");
    char *frag = vmmk__buf_take(&b);
    char *env = frag ? vmmk__soap_envelope(frag) : NULL;
    if (env) {
        vmmk__soap_response r;
        if (vmmk__soap_parse(&r, METHOD, env, strlen(env), 200) != 0)
            abort();
        xmlNodePtr x = vmmk__xml_child(r.body, "x");
        char *got = vmmk__xml_text(x);
        char *attr = vmmk__xml_attr(x, "a");
        if (!got || !attr)
            abort();
        if (exact && (strcmp(got, text) != 0 || strcmp(attr, text) != 0))
            abort();
        /* what came back is always text XML can carry */
        vmmk__buf check = { 0 };
        if (vmmk__xml_escape_strict(&check, got, "fuzz") != 0)
            abort();
        vmmk__buf_free(&check);
        free(got);
        free(attr);
        vmmk__soap_response_clear(&r);
    }
    free(env);
    free(frag);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_as(data, size, 200);
    parse_as(data, size, 500);
    round_trip(data, size);
    return 0;
}
