/* SOAP for vSphere Web Services: envelopes, response parsing, fault
 * mapping and namespace-aware navigation (see soap.h). */
#include "soap.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "../common/internal.h"

/* Bounds on what a reply may put into an error message. */
#define TYPE_MAX 128          /* a fault type name */
#define TEXT_MAX 1024         /* a faultstring in the message */
#define DETAIL_MAX 4096       /* a faultstring in vmmk_error.detail */
#define SNIPPET_MAX 200       /* the start of a non-SOAP body */
#define FIELDS_MAX 512        /* a fault's fields summarised */

/* ---- UTF-8 and escaping ---------------------------------------------- */

/* Length of the valid UTF-8 sequence at @p s (1-4) with its code point,
 * or 0 when the bytes there are not one (overlong forms, surrogates and
 * values past U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)   /* also stops at the NUL */
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* XML 1.0 Char production. */
static bool xml_char_ok(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Offset of the first byte XML cannot carry, or (size_t)-1 when all is fine. */
static size_t first_bad_byte(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (s[i]) {
        uint32_t cp;
        size_t n = utf8_decode(s + i, &cp);
        if (n == 0 || !xml_char_ok(cp))
            return i;
        i += n;
    }
    return (size_t)-1;
}

void vmmk__xml_escape(vmmk__buf *b, const char *text)
{
    if (!b || !text)
        return;
    const unsigned char *s = (const unsigned char *)text;
    size_t run = 0;     /* start of the bytes still to copy verbatim */
    size_t i = 0;
    while (s[i]) {
        const char *rep = NULL;
        uint32_t cp = 0;
        size_t n = 1;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\t': rep = "&#9;"; break;
        case '\n': rep = "&#10;"; break;
        case '\r': rep = "&#13;"; break;
        default:
            n = utf8_decode(s + i, &cp);
            if (n == 0 || !xml_char_ok(cp)) {
                rep = "\xEF\xBF\xBD";   /* U+FFFD REPLACEMENT CHARACTER */
                if (n == 0)
                    n = 1;
            }
        }
        if (rep) {
            vmmk__buf_append(b, (const char *)s + run, i - run);
            vmmk__buf_puts(b, rep);
            run = i + n;
        }
        i += n;
    }
    vmmk__buf_append(b, (const char *)s + run, i - run);
}

int vmmk__xml_escape_strict(vmmk__buf *b, const char *text, const char *what)
{
    const char *w = what ? what : "XML text";
    if (!b || !text)
        return vmmk__err(VMMK_EINVAL, "%s: no value", w);
    size_t bad = first_bad_byte(text);
    if (bad != (size_t)-1)
        return vmmk__err(VMMK_EINVAL,
                         "%s: byte %zu is not valid UTF-8 or a character XML can carry", w, bad);
    vmmk__xml_escape(b, text);
    return b->failed ? vmmk__err(VMMK_ENOMEM, "%s: out of memory", w) : 0;
}

char *vmmk__soap_envelope(const char *body_fragment)
{
    if (!body_fragment) {
        vmmk__err(VMMK_EINVAL, "SOAP envelope: no body");
        return NULL;
    }
    char *s = vmmk__asprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<soapenv:Envelope xmlns:soapenv=\"" VMMK_SOAPENV_NS "\""
                             " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
                             " xmlns:xsi=\"" VMMK_XSI_NS "\">"
                             "<soapenv:Body>%s</soapenv:Body></soapenv:Envelope>",
                             body_fragment);
    if (!s)
        vmmk__err(VMMK_ENOMEM, "SOAP envelope: out of memory");
    return s;
}

/* Append at most @p max bytes of @p s for a message: cut on a character
 * boundary, control characters and invalid bytes shown as one space / '?',
 * runs of whitespace collapsed. "..." marks a cut. */
static void put_clipped(vmmk__buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t used = 0;
    bool space = false;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0) {
            cp = '?';
            n = 1;
        }
        bool ws = cp < 0x20 || cp == ' ' || cp == 0x7F;
        if (ws) {
            space = true;
            p += n;
            continue;
        }
        size_t need = (space && used ? 1 : 0) + (cp == '?' && n == 1 ? 1 : n);
        if (used + need > max) {
            vmmk__buf_puts(b, "...");
            return;
        }
        if (space && used)
            vmmk__buf_append(b, " ", 1);
        space = false;
        if (cp == '?' && n == 1)
            vmmk__buf_append(b, "?", 1);
        else
            vmmk__buf_append(b, (const char *)p, n);
        used += need;
        p += n;
    }
}

static char *clipped(const char *s, size_t max)
{
    vmmk__buf b = { 0 };
    put_clipped(&b, s ? s : "", max);
    return vmmk__buf_take(&b);
}

/* ---- navigation -------------------------------------------------------- */

static bool is_element(xmlNodePtr n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || !n->name)
        return false;
    if (name && strcmp((const char *)n->name, name) != 0)
        return false;
    if (ns && (!n->ns || !n->ns->href || strcmp((const char *)n->ns->href, ns) != 0))
        return false;
    return true;
}

static bool is_vim(xmlNodePtr n, const char *name)
{
    if (!is_element(n, NULL, name))
        return false;
    return !n->ns || !n->ns->href || strcmp((const char *)n->ns->href, VMMK_VIM25_NS) == 0;
}

xmlNodePtr vmmk__xml_child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_vim(c, name))
            return c;
    return NULL;
}

xmlNodePtr vmmk__xml_next(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->next : NULL; c; c = c->next)
        if (is_vim(c, name))
            return c;
    return NULL;
}

xmlNodePtr vmmk__xml_child_ns(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_element(c, ns, name))
            return c;
    return NULL;
}

/* libxml2 allocates with xmlMalloc; callers free() what we return. */
static char *from_xml(xmlChar *x)
{
    if (!x)
        return NULL;
    char *s = strdup((const char *)x);
    xmlFree(x);
    return s;
}

char *vmmk__xml_text(xmlNodePtr node)
{
    if (!node)
        return NULL;
    char *s = from_xml(xmlNodeGetContent(node));
    return s ? s : strdup("");
}

char *vmmk__xml_child_text(xmlNodePtr parent, const char *name)
{
    return vmmk__xml_text(vmmk__xml_child(parent, name));
}

char *vmmk__xml_attr(xmlNodePtr node, const char *name)
{
    if (!is_element(node, NULL, NULL) || !name)
        return NULL;
    xmlAttrPtr a = xmlHasNsProp(node, (const xmlChar *)name, NULL);
    return a ? from_xml(xmlNodeGetContent((xmlNodePtr)a)) : NULL;
}

char *vmmk__xml_type(xmlNodePtr node)
{
    if (!is_element(node, NULL, NULL))
        return NULL;
    xmlAttrPtr found = NULL;
    for (xmlAttrPtr a = node->properties; a && !found; a = a->next)
        if (a->name && strcmp((const char *)a->name, "type") == 0 && a->ns && a->ns->href &&
            strcmp((const char *)a->ns->href, VMMK_XSI_NS) == 0)
            found = a;
    /* A server that forgot to declare the xsi prefix leaves a plain
     * attribute named "xsi:type" (libxml2 only warns). */
    for (xmlAttrPtr a = node->properties; a && !found; a = a->next)
        if (!a->ns && a->name && strcmp((const char *)a->name, "xsi:type") == 0)
            found = a;
    if (!found)
        return NULL;
    char *v = from_xml(xmlNodeGetContent((xmlNodePtr)found));
    if (!v)
        return NULL;
    /* The value is a QName ("xsd:string", "vim25:VirtualDisk"): drop the prefix. */
    char *start = strrchr(v, ':');
    start = start ? start + 1 : v;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    size_t n = strlen(start);
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t' || start[n - 1] == '\n' ||
                 start[n - 1] == '\r'))
        n--;
    if (n == 0) {
        free(v);
        return NULL;
    }
    memmove(v, start, n);
    v[n] = '\0';
    return v;
}

char *vmmk__xml_path(xmlNodePtr node)
{
    enum { MAX_PARTS = 24, NAME_MAX_SHOWN = 64 };
    xmlNodePtr parts[MAX_PARTS];
    size_t n = 0;
    bool more = false;
    for (xmlNodePtr p = node; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (is_element(p, VMMK_SOAPENV_NS, "Body"))
            break;
        if (n == MAX_PARTS) {
            more = true;
            break;
        }
        parts[n++] = p;
    }
    vmmk__buf b = { 0 };
    if (more)
        vmmk__buf_puts(&b, ".../");
    for (size_t i = n; i-- > 0;) {
        put_clipped(&b, (const char *)parts[i]->name, NAME_MAX_SHOWN);
        if (i)
            vmmk__buf_puts(&b, "/");
    }
    return vmmk__buf_take(&b);
}

/* The trimmed text of a required/optional child, or an error. *text is
 * NULL when the child is absent and not required. */
static int child_value(char **text, xmlNodePtr parent, const char *name, bool *present,
                       const char *kind)
{
    *text = NULL;
    if (present)
        *present = false;
    xmlNodePtr c = vmmk__xml_child(parent, name);
    if (!c) {
        if (present)
            return 0;
        char *path = vmmk__xml_path(parent);
        int rc = vmmk__err(VMMK_EPARSE, "%s%s%s: missing (%s expected)", path ? path : "",
                           path && *path ? "/" : "", name ? name : "?", kind);
        free(path);
        return rc;
    }
    char *t = vmmk__xml_text(c);
    if (!t)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char *s = t;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    memmove(t, s, n);
    t[n] = '\0';
    if (present)
        *present = true;
    *text = t;
    return 0;
}

static int bad_value(xmlNodePtr parent, const char *name, const char *kind, const char *text)
{
    char *path = vmmk__xml_path(vmmk__xml_child(parent, name));
    char *shown = clipped(text, 40);
    int rc = vmmk__err(VMMK_EPARSE, "%s: not %s: \"%s\"", path ? path : name,
                       kind, shown ? shown : "");
    free(path);
    free(shown);
    return rc;
}

int vmmk__xml_child_int64(xmlNodePtr parent, const char *name, long long *out, bool *present)
{
    char *t;
    int rc = child_value(&t, parent, name, present, "an integer");
    if (rc || !t)
        return rc;
    const char *d = t + (t[0] == '+' || t[0] == '-');
    bool digits = *d != '\0';
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            digits = false;
    long long v = 0;
    if (digits) {
        errno = 0;
        v = strtoll(t, NULL, 10);
        if (errno == ERANGE)
            digits = false;
    }
    if (!digits) {
        rc = bad_value(parent, name, "a 64-bit integer", t);
        if (present)
            *present = false;
    } else if (out) {
        *out = v;
    }
    free(t);
    return rc;
}

int vmmk__xml_child_bool(xmlNodePtr parent, const char *name, bool *out, bool *present)
{
    char *t;
    int rc = child_value(&t, parent, name, present, "a boolean");
    if (rc || !t)
        return rc;
    if (strcmp(t, "true") == 0 || strcmp(t, "1") == 0) {
        if (out)
            *out = true;
    } else if (strcmp(t, "false") == 0 || strcmp(t, "0") == 0) {
        if (out)
            *out = false;
    } else {
        rc = bad_value(parent, name, "a boolean", t);
        if (present)
            *present = false;
    }
    free(t);
    return rc;
}

/* ---- fault types --------------------------------------------------------- */

/* Fault type -> code.  The vim25 fault hierarchy is not in the reply (only
 * the concrete type is), so subtypes that matter are listed by name; names
 * follow the vSphere Web Services API reference. */
static const struct {
    const char *type;
    int code;
} fault_codes[] = {
    /* InvalidLogin and subtypes; SecurityError and subtypes */
    { "InvalidLogin", VMMK_EAUTH },
    { "InvalidClientCertificate", VMMK_EAUTH },
    { "PasswordExpired", VMMK_EAUTH },
    { "NoClientCertificate", VMMK_EAUTH },
    { "InvalidGuestLogin", VMMK_EAUTH },
    { "GuestPermissionDenied", VMMK_EAUTH },
    { "SecurityError", VMMK_EAUTH },
    { "NoPermission", VMMK_EAUTH },
    { "NotAuthenticated", VMMK_EAUTH },
    { "RestrictedVersion", VMMK_EAUTH },
    { "SolutionUserRequired", VMMK_EAUTH },
    /* missing objects (FileNotFound is a FileFault, but "not found" is
     * what a caller acts on) */
    { "ManagedObjectNotFound", VMMK_ENOTFOUND },
    { "NotFound", VMMK_ENOTFOUND },
    { "FileNotFound", VMMK_ENOTFOUND },
    /* InvalidState and subtypes, and work already under way */
    { "InvalidState", VMMK_ESTATE },
    { "InvalidPowerState", VMMK_ESTATE },
    { "InvalidHostState", VMMK_ESTATE },
    { "InvalidHostConnectionState", VMMK_ESTATE },
    { "InvalidDatastoreState", VMMK_ESTATE },
    { "TaskInProgress", VMMK_ESTATE },
    { "VAppTaskInProgress", VMMK_ESTATE },
    { "ToolsUnavailable", VMMK_ESTATE },
    /* bad requests: InvalidRequest and its subtype InvalidType (but not
     * MethodNotFound, below), InvalidArgument, InvalidProperty... */
    { "InvalidArgument", VMMK_EINVAL },
    { "InvalidRequest", VMMK_EINVAL },
    { "InvalidType", VMMK_EINVAL },
    { "InvalidProperty", VMMK_EINVAL },
    { "InvalidName", VMMK_EINVAL },
    { "InvalidDatastorePath", VMMK_EINVAL },
    { "InvalidLocale", VMMK_EINVAL },
    { "InvalidCollectorVersion", VMMK_EINVAL },
    /* the server cannot do it */
    { "MethodNotFound", VMMK_EUNSUPPORTED },
    { "NotSupported", VMMK_EUNSUPPORTED },
    { "NotImplemented", VMMK_EUNSUPPORTED },
    { "MethodDisabled", VMMK_EUNSUPPORTED },
    /* names taken */
    { "DuplicateName", VMMK_EEXISTS },
    { "AlreadyExists", VMMK_EEXISTS },
    { "FileAlreadyExists", VMMK_EEXISTS },
    { "RequestCanceled", VMMK_ECANCELED },
    { "Timedout", VMMK_ETIMEOUT },
    { "ConcurrentAccess", VMMK_ECONFLICT },
    /* HostCommunication and subtypes */
    { "HostCommunication", VMMK_ENETWORK },
    { "HostNotConnected", VMMK_ENETWORK },
    { "HostNotReachable", VMMK_ENETWORK },
    /* FileFault and its other subtypes */
    { "FileFault", VMMK_EIO },
    { "CannotAccessFile", VMMK_EIO },
    { "CannotCreateFile", VMMK_EIO },
    { "CannotDeleteFile", VMMK_EIO },
    { "DirectoryNotEmpty", VMMK_EIO },
    { "FileBackedPortNotSupported", VMMK_EIO },
    { "FileLocked", VMMK_EIO },
    { "FileNameTooLong", VMMK_EIO },
    { "FileNotWritable", VMMK_EIO },
    { "FileTooLarge", VMMK_EIO },
    { "IncorrectFileType", VMMK_EIO },
    { "NetworkCopyFault", VMMK_EIO },
    { "NoDiskSpace", VMMK_EIO },
    { "NotADirectory", VMMK_EIO },
    { "NotAFile", VMMK_EIO },
    { "TooManyConcurrentNativeClones", VMMK_EIO },
    { "TooManyNativeCloneLevels", VMMK_EIO },
    { "TooManyNativeClones", VMMK_EIO },
    { "CannotAccessVmDisk", VMMK_EIO },
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

int vmmk__soap_fault_code(const char *type)
{
    if (!type)
        return VMMK_EREMOTE;
    for (size_t i = 0; i < sizeof fault_codes / sizeof fault_codes[0]; i++)
        if (strcmp(type, fault_codes[i].type) == 0)
            return fault_codes[i].code;
    /* Families the table does not list one by one. */
    if (ends_with(type, "NotFound"))
        return VMMK_ENOTFOUND;
    if (strncmp(type, "Invalid", 7) == 0 && ends_with(type, "State"))
        return VMMK_ESTATE;
    if (ends_with(type, "NotSupported"))
        return VMMK_EUNSUPPORTED;
    if (ends_with(type, "AlreadyExists"))
        return VMMK_EEXISTS;
    return VMMK_EREMOTE;
}

/* A fault element's type: its xsi:type, else (when @p by_name) its local
 * name without a "Fault" suffix ("InvalidLoginFault" -> "InvalidLogin").
 * New string clipped to TYPE_MAX, or NULL. */
static char *fault_type(xmlNodePtr fault, bool by_name)
{
    char *t = vmmk__xml_type(fault);
    if (!t && by_name && is_element(fault, NULL, NULL)) {
        t = strdup((const char *)fault->name);
        if (t && ends_with(t, "Fault"))
            t[strlen(t) - 5] = '\0';
    }
    if (!t)
        return NULL;
    char *c = clipped(t, TYPE_MAX);
    free(t);
    return c;
}

/* "name=value, ..." for a fault's simple fields (text-only children and
 * managed object references), the inherited MethodFault fields left out. */
static char *fault_fields(xmlNodePtr fault)
{
    vmmk__buf b = { 0 };
    size_t count = 0;
    for (xmlNodePtr c = fault ? fault->children : NULL; c && count < 16; c = c->next) {
        if (!is_element(c, NULL, NULL) || vmmk__xml_child_ns(c, NULL, NULL))
            continue;
        const char *name = (const char *)c->name;
        if (strcmp(name, "faultCause") == 0 || strcmp(name, "faultMessage") == 0 ||
            strcmp(name, "dynamicType") == 0 || strcmp(name, "dynamicProperty") == 0)
            continue;
        char *text = vmmk__xml_text(c);
        char *type = vmmk__xml_attr(c, "type");
        if (text && *text) {
            if (b.len + 1 > FIELDS_MAX) {
                free(text);
                free(type);
                vmmk__buf_puts(&b, ", ...");
                break;
            }
            if (count++)
                vmmk__buf_puts(&b, ", ");
            put_clipped(&b, name, 64);
            vmmk__buf_puts(&b, "=");
            if (type) {
                put_clipped(&b, type, 64);
                vmmk__buf_puts(&b, ":");
            }
            put_clipped(&b, text, 128);
        }
        free(text);
        free(type);
    }
    return vmmk__buf_take(&b);
}

/* Record "WHAT: TYPE: text[ context]" with @p code. @p text may be NULL
 * or empty; the fields of @p fault stand in for it then. */
static int record_fault(int code, const char *what, const char *type, const char *text,
                        xmlNodePtr fault, const char *context, int http_status)
{
    char *shown = NULL, *detail = NULL;
    char *trimmed = clipped(text, SIZE_MAX);
    if (trimmed && *trimmed) {
        shown = clipped(trimmed, TEXT_MAX);
        detail = clipped(trimmed, DETAIL_MAX);
    } else {
        shown = fault_fields(fault);
        detail = shown ? strdup(shown) : NULL;
    }
    free(trimmed);
    const char *s = shown && *shown ? shown : NULL;
    int rc = vmmk__err_full(code, type, detail && *detail ? detail : NULL, http_status, 0,
                            "%s: %s%s%s%s", what, type, s ? ": " : "", s ? s : "",
                            context ? context : "");
    free(shown);
    free(detail);
    return rc;
}

int vmmk__soap_localized_fault(xmlNodePtr lmf, const char *what)
{
    const char *w = what ? what : "vSphere";
    xmlNodePtr fault = vmmk__xml_child(lmf, "fault");
    char *type = fault_type(fault, false);
    char *msg = vmmk__xml_child_text(lmf, "localizedMessage");
    const char *t = type ? type : "MethodFault";
    int rc = record_fault(vmmk__soap_fault_code(type), w, t, msg, fault, NULL, 0);
    free(type);
    free(msg);
    return rc;
}

static int object_content_fault(xmlNodePtr oc, const char *method, int http_status)
{
    for (xmlNodePtr ms = vmmk__xml_child(oc, "missingSet"); ms; ms = vmmk__xml_next(ms, "missingSet")) {
        xmlNodePtr lmf = vmmk__xml_child(ms, "fault");
        if (!lmf)
            continue;
        xmlNodePtr fault = vmmk__xml_child(lmf, "fault");
        xmlNodePtr obj = vmmk__xml_child(oc, "obj");
        char *type = fault_type(fault, false);
        char *msg = vmmk__xml_child_text(lmf, "localizedMessage");
        char *path = vmmk__xml_child_text(ms, "path");
        char *otype = vmmk__xml_attr(obj, "type");
        char *oval = vmmk__xml_text(obj);
        vmmk__buf ctx = { 0 };
        vmmk__buf_puts(&ctx, " (property '");
        put_clipped(&ctx, path ? path : "?", 128);
        vmmk__buf_puts(&ctx, "'");
        if (oval) {
            vmmk__buf_puts(&ctx, " of ");
            if (otype) {
                put_clipped(&ctx, otype, 64);
                vmmk__buf_puts(&ctx, ":");
            }
            put_clipped(&ctx, oval, 128);
        }
        vmmk__buf_puts(&ctx, ")");
        char *context = vmmk__buf_take(&ctx);
        int rc = record_fault(vmmk__soap_fault_code(type), method, type ? type : "MethodFault",
                              msg, fault, context, http_status);
        free(type);
        free(msg);
        free(path);
        free(otype);
        free(oval);
        free(context);
        return rc;
    }
    return 0;
}

int vmmk__soap_missing_set_fault(xmlNodePtr node, const char *method, long http_status)
{
    const char *m = method ? method : "RetrieveProperties";
    int status = http_status > 0 && http_status < 1000 ? (int)http_status : 0;
    if (!node)
        return 0;
    if (vmmk__xml_child(node, "obj") || vmmk__xml_child(node, "missingSet") ||
        vmmk__xml_child(node, "propSet"))
        return object_content_fault(node, m, status);
    /* RetrieveProperties: returnval[] are ObjectContent; RetrievePropertiesEx
     * and ContinueRetrievePropertiesEx: returnval is a RetrieveResult with
     * objects[]; a RetrieveResult may also be passed directly. */
    const char *lists[] = { "returnval", "objects" };
    for (size_t l = 0; l < 2; l++) {
        for (xmlNodePtr r = vmmk__xml_child(node, lists[l]); r; r = vmmk__xml_next(r, lists[l])) {
            int rc = object_content_fault(r, m, status);
            for (xmlNodePtr o = vmmk__xml_child(r, "objects"); !rc && o;
                 o = vmmk__xml_next(o, "objects"))
                rc = object_content_fault(o, m, status);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- parsing ------------------------------------------------------------- */

/* What the parser callbacks learn, reached through ctxt->_private. */
typedef struct parse_state {
    bool doctype;              /* a DOCTYPE was seen (and the parse stopped) */
    bool have_error, fatal;
    int line;
    char message[256];         /* the first fatal error (else the first error) */
} parse_state;

/* SOAP 1.1 forbids a DTD, and a DTD is where entity bombs and external
 * entities live: stop the parse at the DOCTYPE before its subset is read. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    if (st)
        st->doctype = true;
    xmlStopParser(ctxt);
}

#if LIBXML_VERSION >= 21200
typedef const xmlError vmmk_xml_error;
#else
typedef xmlError vmmk_xml_error;
#endif

static void on_error(void *ctx, vmmk_xml_error *e)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt ? ctxt->_private : NULL;
    if (!st || !e || e->level < XML_ERR_ERROR)
        return;
    bool fatal = e->level == XML_ERR_FATAL;
    if (st->have_error && (st->fatal || !fatal))
        return;
    st->have_error = true;
    st->fatal = fatal;
    st->line = e->line;
    char *m = clipped(e->message ? e->message : "unknown error", sizeof st->message - 4);
    snprintf(st->message, sizeof st->message, "%s", m ? m : "unknown error");
    free(m);
}

/* libxml2 reports a few errors without a parser context (unknown
 * encodings, I/O) through its generic handler, which prints to stderr by
 * default; a library must stay quiet, so they are dropped during our parse
 * (the parse still fails and says why through the context). */
static void quiet(void *ctx, const char *msg, ...)
{
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void)
{
    xmlInitParser();
}

static int parse_xml(xmlDocPtr *out, parse_state *st, const char *xml, size_t len)
{
    *out = NULL;
    pthread_once(&xml_once, xml_init);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return VMMK_ENOMEM;
    ctxt->_private = st;
    ctxt->sax->internalSubset = on_doctype;
    ctxt->sax->serror = on_error;
    xmlGenericErrorFunc old = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, quiet);
    /* NONET: no network access; no NOENT (never substitute entities), no
     * DTDLOAD/DTDATTR/DTDVALID, no HUGE (keeps libxml2's 256-level depth
     * and 10 MB text node limits); errors come to on_error, not stderr. */
    int options = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                  XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, options);
    xmlSetGenericErrorFunc(old_ctx, old);
    if (doc && (st->doctype || doc->intSubset || doc->extSubset)) {
        st->doctype = true;
        xmlFreeDoc(doc);
        doc = NULL;
    }
    if (!doc && !st->have_error) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        st->have_error = true;
        st->line = e ? e->line : 0;
        snprintf(st->message, sizeof st->message, "%s",
                 e && e->message ? e->message : "not well-formed");
    }
    xmlFreeParserCtxt(ctxt);
    *out = doc;
    return doc ? 0 : VMMK_EPARSE;
}

/* libxml2 before 2.11 compares each attribute of a start tag with all the
 * earlier ones, and looks every prefix up through all the namespace
 * declarations in scope: both quadratic, and run after the transfer, where
 * no timeout applies.  A 2 MB reply with one start tag of 200 000
 * attributes took a minute of CPU, and 64 MiB of such tags would take
 * hours; so would elements using prefixes under 256 levels of 200
 * declarations each.  vim25 replies carry a handful of either, so more than
 * these limits is refused before libxml2 sees the reply (one linear pass). */
#define ATTRS_MAX 256          /* attributes in one start tag, xmlns ones included */
#define NS_IN_SCOPE_MAX 256    /* namespace declarations in scope at once */
#define SCAN_DEPTH_MAX 256     /* open elements tracked (libxml2 refuses deeper ones) */

static const char *find_seq(const char *p, const char *end, const char *seq)
{
    size_t n = strlen(seq);
    for (; (size_t)(end - p) >= n; p++)
        if (*p == seq[0] && memcmp(p, seq, n) == 0)
            return p + n;
    return end;
}

static bool is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* NULL when the reply is within the limits above, else what it exceeds.
 * Markup that is not well-formed is left to the parser to report (which
 * reads on after most errors: hence no early exit here). */
static const char *over_limits(const char *xml, size_t len)
{
    static const char attrs_msg[] = "a start tag with more than 256 attributes";
    static const char ns_msg[] = "more than 256 namespace declarations in scope";
    unsigned short stack[SCAN_DEPTH_MAX];    /* declarations per open element */
    size_t depth = 0, deeper = 0, in_scope = 0;
    const char *p = xml, *end = xml + len;
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL && ++p < end) {
        if (*p == '!') {
            if (end - p >= 3 && memcmp(p, "!--", 3) == 0)
                p = find_seq(p + 3, end, "-->");
            else if (end - p >= 8 && memcmp(p, "![CDATA[", 8) == 0)
                p = find_seq(p + 8, end, "]]>");
            /* else a DOCTYPE (refused by the parser) or not XML: read on */
            continue;
        }
        if (*p == '?') {
            p = find_seq(p + 1, end, "?>");
            continue;
        }
        if (*p == '/') {
            if (deeper > 0)
                deeper--;
            else if (depth > 0)
                in_scope -= stack[--depth];
            continue;
        }
        /* A start tag: count the attribute names, up to the '>' outside quotes. */
        size_t attrs = 0, decls = 0;
        bool space = false, empty = false;
        char quote = 0;
        for (; p < end; p++) {
            char c = *p;
            if (quote) {
                if (c == quote)
                    quote = 0;
                continue;
            }
            if (c == '"' || c == '\'') {
                quote = c;
            } else if (is_xml_space(c)) {
                space = true;
                continue;
            } else if (c == '>' || c == '<') {
                break;
            } else if (space && c != '=' && c != '/') {
                attrs++;
                if (end - p > 5 && memcmp(p, "xmlns", 5) == 0 &&
                    (p[5] == '=' || p[5] == ':' || is_xml_space(p[5])))
                    decls++;
            }
            empty = c == '/';
            space = false;
        }
        if (attrs > ATTRS_MAX)
            return attrs_msg;
        if (in_scope + decls > NS_IN_SCOPE_MAX)
            return ns_msg;
        if (!empty) {
            /* Past libxml2's depth limit (which it reports itself), an
             * element's declarations are kept in scope for good. */
            if (depth < SCAN_DEPTH_MAX)
                stack[depth++] = (unsigned short)decls;
            else
                deeper++;
            in_scope += decls;
        }
    }
    return NULL;
}

static char *snippet(const char *body, size_t len)
{
    char head[SNIPPET_MAX * 2 + 1];
    size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, body, n);
    head[n] = '\0';   /* an embedded NUL just ends the snippet early */
    return clipped(head, SNIPPET_MAX);
}

static int http_error(const char *m, int status, const char *body, size_t len)
{
    char *s = snippet(body, len);
    int rc;
    if (s && *s)
        rc = vmmk__err_full(VMMK_EHTTP, NULL, s, status, 0,
                            "%s: HTTP status %d without a SOAP response: %s", m, status, s);
    else
        rc = vmmk__err_full(VMMK_EHTTP, NULL, NULL, status, 0,
                            "%s: HTTP status %d with an empty body", m, status);
    free(s);
    return rc;
}

static int soap_fault(xmlNodePtr fault, const char *m, int status)
{
    char *code = vmmk__xml_text(vmmk__xml_child_ns(fault, NULL, "faultcode"));
    char *text = vmmk__xml_text(vmmk__xml_child_ns(fault, NULL, "faultstring"));
    xmlNodePtr detail = vmmk__xml_child_ns(fault, NULL, "detail");
    xmlNodePtr first = vmmk__xml_child_ns(detail, NULL, NULL);
    char *type = fault_type(first, true);
    if (!type && code) {
        /* No detail: name the SOAP faultcode ("ServerFaultCode"), unprefixed. */
        const char *c = strrchr(code, ':');
        type = clipped(c ? c + 1 : code, TYPE_MAX);
    }
    const char *t = type && *type ? type : "SOAP fault";
    int rc = record_fault(vmmk__soap_fault_code(first ? type : NULL), m, t, text, first, NULL,
                          status);
    free(code);
    free(text);
    free(type);
    return rc;
}

int vmmk__soap_parse(vmmk__soap_response *out, const char *method, const char *xml, size_t len,
                     long http_status)
{
    const char *m = method && *method ? method : "SOAP";
    if (!out)
        return vmmk__err(VMMK_EINVAL, "%s: no place for the response", m);
    out->doc = NULL;
    out->body = NULL;
    if (!xml)
        len = 0;
    int status = http_status > 0 && http_status < 1000 ? (int)http_status : 0;
    bool http_ok = status == 0 || (status >= 200 && status < 300);

    if (len > VMMK_MAX_DOCUMENT)
        return vmmk__err_full(http_ok ? VMMK_EPARSE : VMMK_EHTTP, NULL, NULL, status, 0,
                              "%s: response of %zu bytes is larger than the %u MiB limit%s", m,
                              len, VMMK_MAX_DOCUMENT >> 20,
                              http_ok ? "" : " (HTTP error status)");
    size_t ws = 0;
    while (ws < len && (xml[ws] == ' ' || xml[ws] == '\t' || xml[ws] == '\n' || xml[ws] == '\r'))
        ws++;
    if (ws == len) {
        if (!http_ok)
            return http_error(m, status, "", 0);
        return vmmk__err_full(VMMK_EPARSE, NULL, NULL, status, 0, "%s: empty response", m);
    }

    const char *over = over_limits(xml, len);
    if (over) {
        if (!http_ok)
            return http_error(m, status, xml, len);
        return vmmk__err_full(VMMK_EPARSE, NULL, NULL, status, 0,
                              "%s: response refused: it has %s, beyond what the XML parser "
                              "handles in reasonable time", m, over);
    }

    parse_state st = { 0 };
    xmlDocPtr doc;
    if (parse_xml(&doc, &st, xml, len) != 0) {
        if (!st.have_error && !st.doctype)
            return vmmk__err(VMMK_ENOMEM, "%s: out of memory parsing the response", m);
        if (!http_ok)
            return http_error(m, status, xml, len);
        char *s = snippet(xml, len);
        int rc;
        if (st.doctype)
            rc = vmmk__err_full(VMMK_EPARSE, NULL, s, status, 0,
                                "%s: response refused: it has a document type declaration "
                                "(DOCTYPE), which SOAP does not allow", m);
        else
            rc = vmmk__err_full(VMMK_EPARSE, NULL, s, status, 0,
                                "%s: malformed XML response (line %d): %s", m, st.line,
                                st.message);
        free(s);
        return rc;
    }

    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = 0;
    if (!is_element(root, VMMK_SOAPENV_NS, "Envelope")) {
        if (!http_ok) {
            rc = http_error(m, status, xml, len);
        } else {
            char *name = clipped(root ? (const char *)root->name : "", 64);
            rc = vmmk__err_full(VMMK_EPARSE, NULL, NULL, status, 0,
                                "%s: response is not a SOAP envelope (root element <%s>)", m,
                                name ? name : "");
            free(name);
        }
        goto fail;
    }
    xmlNodePtr body = vmmk__xml_child_ns(root, VMMK_SOAPENV_NS, "Body");
    if (!body) {
        rc = vmmk__err_full(VMMK_EPARSE, NULL, NULL, status, 0,
                            "%s: SOAP response without a soapenv:Body", m);
        goto fail;
    }
    xmlNodePtr first = vmmk__xml_child_ns(body, NULL, NULL);
    if (!first) {
        rc = vmmk__err_full(VMMK_EPARSE, NULL, NULL, status, 0,
                            "%s: SOAP response with an empty soapenv:Body", m);
        goto fail;
    }
    if (is_element(first, VMMK_SOAPENV_NS, "Fault")) {
        rc = soap_fault(first, m, status);
        goto fail;
    }
    if (!http_ok) {
        char *name = clipped((const char *)first->name, 64);
        rc = vmmk__err_full(VMMK_EHTTP, NULL, NULL, status, 0,
                            "%s: HTTP status %d with a SOAP response that is not a fault (<%s>)",
                            m, status, name ? name : "");
        free(name);
        goto fail;
    }
    out->doc = doc;
    out->body = first;
    return 0;

fail:
    xmlFreeDoc(doc);
    return rc;
}

void vmmk__soap_response_clear(vmmk__soap_response *r)
{
    if (!r)
        return;
    xmlFreeDoc(r->doc);
    r->doc = NULL;
    r->body = NULL;
}
