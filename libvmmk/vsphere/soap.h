/* SOAP for vSphere Web Services (vim25): envelopes built with escaping,
 * responses parsed with libxml2 resolving namespaces (vcsim writes
 * XMLSchema-instance:type, vCenter xsi:type), faults mapped to VMMK_E*
 * codes carrying the fault type and text, and hostile input (malformed,
 * truncated, oversized, deeply nested, entities) refused with a clear
 * error, never a crash.
 *
 * Where errors come from in a vSphere reply, and which helper reads them:
 *  - a SOAP fault (soapenv:Fault, normally with HTTP 500): vmmk__soap_parse
 *    itself returns the mapped code;
 *  - a property the PropertyCollector could not read (ObjectContent.missingSet,
 *    HTTP 200; vcsim reports an expired session this way):
 *    vmmk__soap_missing_set_fault;
 *  - a failed task: NOT a SOAP fault.  The reply that carries TaskInfo is an
 *    ordinary HTTP 200 response; TaskInfo.state is "error" and TaskInfo.error
 *    is a LocalizedMethodFault ({fault xsi:type=..., localizedMessage}):
 *    pass that element to vmmk__soap_localized_fault.
 * All three use the same fault type -> code table (vmmk__soap_fault_code). */
#ifndef VMMK_SOAP_H
#define VMMK_SOAP_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#define VMMK_VIM25_NS "urn:vim25"
#define VMMK_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
#define VMMK_SOAPENV_NS "http://schemas.xmlsoap.org/soap/envelope/"

/* Append @p text to a growing buffer with XML escaping, safe in element
 * content and in attribute values: & < > " ' become entities, tab, LF and
 * CR character references (so they survive attribute and line-end
 * normalisation).  Characters XML cannot carry at all (other C0 controls,
 * U+FFFE, U+FFFF) and invalid UTF-8 bytes are replaced by U+FFFD, so the
 * output is always well-formed.  A NULL @p text appends nothing. */
struct vmmk__buf;
void vmmk__xml_escape(struct vmmk__buf *b, const char *text);

/* The same, but refuse instead of replacing: text that is not valid UTF-8
 * or holds a character XML cannot carry is VMMK_EINVAL naming @p what and
 * the byte offset (never the text: it may be a password), and nothing is
 * appended.  For values that must reach the server exactly (user names,
 * passwords, inventory paths). */
int vmmk__xml_escape_strict(struct vmmk__buf *b, const char *text, const char *what);

/* Wrap a vim25 body fragment (e.g. "<RetrieveServiceContent xmlns=\"urn:vim25\">...")
 * in a SOAP envelope declaring soapenv, xsd and xsi.  New string (free());
 * NULL with VMMK_EINVAL (NULL fragment) or VMMK_ENOMEM recorded. */
char *vmmk__soap_envelope(const char *body_fragment);

/* A parsed response. */
typedef struct vmmk__soap_response {
    xmlDocPtr doc;
    xmlNodePtr body;           /* the first element inside soapenv:Body */
} vmmk__soap_response;

/* Parse a response of @p len bytes for @p method (named in errors).
 * A SOAP fault is VMMK_EREMOTE (or a more specific code: InvalidLogin ->
 * VMMK_EAUTH, NotAuthenticated -> VMMK_EAUTH with fault "NotAuthenticated",
 * ManagedObjectNotFound -> VMMK_ENOTFOUND, InvalidPowerState -> VMMK_ESTATE,
 * InvalidArgument/InvalidRequest -> VMMK_EINVAL, MethodNotFound ->
 * VMMK_EUNSUPPORTED, FileFault and subtypes -> VMMK_EIO, ...: see
 * vmmk__soap_fault_code) with the fault type in vmmk_error.fault and the
 * message "METHOD: FAULTTYPE: faultstring" (a fault without faultstring
 * gets its detail's simple fields instead); the HTTP status goes into
 * vmmk_error.http_status.  The fault type is the detail element's xsi:type
 * (any prefix bound to the XSI namespace) or, without one, its name minus a
 * "Fault" suffix.  Malformed XML (message with libxml2's text and line), a
 * missing Body, or a non-XML reply is VMMK_EPARSE naming the method; a
 * document type declaration (DOCTYPE: entities, XXE) is refused before its
 * content is read; the document may be at most VMMK_MAX_DOCUMENT bytes and
 * 256 elements deep, and is refused (VMMK_EPARSE) with a start tag of more
 * than 256 attributes or more than 256 namespace declarations in scope,
 * which libxml2 < 2.11 parses in quadratic time.  An HTTP status outside 2xx without a SOAP envelope
 * is VMMK_EHTTP naming the status and the first bytes of the body
 * (redacted, also in vmmk_error.detail).  @p http_status 0 means unknown
 * (treated as 200).  On success @p out owns the document (free with
 * vmmk__soap_response_clear); on failure @p out is empty. */
int vmmk__soap_parse(vmmk__soap_response *out, const char *method, const char *xml, size_t len,
                     long http_status);
void vmmk__soap_response_clear(vmmk__soap_response *r);

/* The VMMK_E* code for a vim25 fault type name ("InvalidLogin" ->
 * VMMK_EAUTH); VMMK_EREMOTE for a NULL or unknown type. */
int vmmk__soap_fault_code(const char *fault_type);

/* Record the error a LocalizedMethodFault element describes (TaskInfo.error,
 * MissingProperty.fault): type from its <fault> child's xsi:type, code from
 * vmmk__soap_fault_code, message "WHAT: TYPE: localizedMessage" (or the
 * fault's simple fields when there is no message).  Returns the code (never
 * 0: an element without a fault is VMMK_EREMOTE "MethodFault"). */
int vmmk__soap_localized_fault(xmlNodePtr localized_fault, const char *what);

/* Look for ObjectContent.missingSet[].fault under @p node: an ObjectContent
 * itself, a RetrieveProperties(Ex) response body or a RetrieveResult (each
 * returnval / objects is checked).  The first missing property that carries
 * a fault is recorded like a SOAP fault ("METHOD: NotAuthenticated: ...
 * (property 'name' of VirtualMachine:vm-57)", code from the same table,
 * vmmk_error.http_status = @p http_status) and its code returned; 0 when no
 * property is missing.  Callers that can live without some properties may
 * inspect missingSet themselves instead. */
int vmmk__soap_missing_set_fault(xmlNodePtr node, const char *method, long http_status);

/* Navigation: the first / next element with local name @p name (any name
 * when NULL) in the vim25 namespace or in no namespace; elements of other
 * namespaces are skipped. */
xmlNodePtr vmmk__xml_child(xmlNodePtr parent, const char *name);
xmlNodePtr vmmk__xml_next(xmlNodePtr node, const char *name);
/* The first child element with local name @p name (any when NULL) in the
 * namespace @p ns (any namespace when NULL). */
xmlNodePtr vmmk__xml_child_ns(xmlNodePtr parent, const char *ns, const char *name);
/* Text content of a node (new string, "" for an empty element), or NULL
 * for a NULL node. */
char *vmmk__xml_text(xmlNodePtr node);
/* Text content of a child (new string) or NULL. */
char *vmmk__xml_child_text(xmlNodePtr parent, const char *name);
/* An attribute in no namespace (e.g. a ManagedObjectReference's "type"):
 * new string or NULL. */
char *vmmk__xml_attr(xmlNodePtr node, const char *name);
/* The xsi:type of an element, resolved through its namespace (whatever the
 * prefix), without any prefix on the value ("VirtualDisk").  New string or NULL. */
char *vmmk__xml_type(xmlNodePtr node);
/* Where @p node is, for error messages: local names from below soapenv:Body
 * ("RetrievePropertiesResponse/returnval/propSet/val").  New string or NULL. */
char *vmmk__xml_path(xmlNodePtr node);
/* Integer / boolean child text (xsd:long / xsd:boolean, surrounding
 * whitespace allowed), with VMMK_EPARSE errors naming the element path.
 * A missing child sets *present = false and leaves *out alone; with
 * @p present NULL the child is required and its absence is VMMK_EPARSE. */
int vmmk__xml_child_int64(xmlNodePtr parent, const char *name, long long *out, bool *present);
int vmmk__xml_child_bool(xmlNodePtr parent, const char *name, bool *out, bool *present);

#endif
