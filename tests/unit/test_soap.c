/* The SOAP layer: envelopes and escaping, every vcsim response captured in
 * tests/data/soap (real govmomi vcsim replies), fault mapping, missingSet,
 * task errors, the navigation helpers, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "vsphere/soap.h"

#define DATA VMMK_TEST_DATA "/soap/"

static char *fixture(const char *name, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    int rc = vmmk__read_file(&text, &n, name);
    if (rc != 0)
        print_error("%s: %s\n", name, vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    if (len)
        *len = n;
    return text;
}

/* Parse fixture @p name as the reply to @p method; expect success. */
static void parse_ok(vmmk__soap_response *r, const char *name, const char *method)
{
    size_t len;
    char *text = fixture(name, &len);
    int rc = vmmk__soap_parse(r, method, text, len, 200);
    if (rc != 0)
        print_error("%s: %s\n", name, vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(r->doc);
    assert_non_null(r->body);
    free(text);
}

/* Parse @p len bytes and expect @p code; the message must start with
 * @p prefix (and equal it when @p exact).  Returns nothing: the error is
 * left in vmmk_error_last() for further checks. */
static void parse_fails(const char *text, size_t len, long status, const char *method, int code,
                        const char *prefix, bool exact)
{
    vmmk__soap_response r = { (xmlDocPtr)1, (xmlNodePtr)1 };
    int rc = vmmk__soap_parse(&r, method, text, len, status);
    const vmmk_error *e = vmmk_error_last();
    if (rc != code || strncmp(e->message, prefix, strlen(prefix)) != 0 ||
        (exact && strcmp(e->message, prefix) != 0))
        print_error("got %d \"%s\"\n", rc, e->message);
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
    assert_null(r.doc);
    assert_null(r.body);
    if (exact)
        assert_string_equal(e->message, prefix);
    else
        assert_memory_equal(e->message, prefix, strlen(prefix));
    if (status > 0)
        assert_int_equal(e->http_status, status);
}

static char *child_text(xmlNodePtr parent, const char *name)
{
    char *s = vmmk__xml_child_text(parent, name);
    assert_non_null(s);
    return s;
}

static void assert_child_text(xmlNodePtr parent, const char *name, const char *want)
{
    char *s = child_text(parent, name);
    assert_string_equal(s, want);
    free(s);
}

static void assert_type(xmlNodePtr node, const char *want)
{
    char *t = vmmk__xml_type(node);
    if (!want) {
        assert_null(t);
        return;
    }
    assert_non_null(t);
    assert_string_equal(t, want);
    free(t);
}

static void assert_attr(xmlNodePtr node, const char *name, const char *want)
{
    char *t = vmmk__xml_attr(node, name);
    assert_non_null(t);
    assert_string_equal(t, want);
    free(t);
}

static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    return vmmk__asprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* ---- escaping and envelopes ---- */

static void escape(const char *in, const char *want)
{
    vmmk__buf b = { 0 };
    vmmk__xml_escape(&b, in);
    char *got = vmmk__buf_take(&b);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_escape(void **state)
{
    escape("plain", "plain");
    escape("", "");
    escape("a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    escape("t\tn\nr\r", "t&#9;n&#10;r&#13;");
    escape("]]>", "]]&gt;");
    /* valid UTF-8 passes, including 4-byte sequences */
    escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    /* control characters XML cannot carry, and invalid UTF-8, become U+FFFD */
    escape("a\x01" "b\x1F" "c", "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
    escape("x\xFFy", "x\xEF\xBF\xBDy");
    escape("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");               /* overlong '/' */
    escape("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
    escape("\xEF\xBF\xBE", "\xEF\xBF\xBD");                       /* U+FFFE */
    escape("trunc\xE2\x82", "trunc\xEF\xBF\xBD\xEF\xBF\xBD");
    /* NULL appends nothing */
    vmmk__buf b = { 0 };
    vmmk__xml_escape(&b, NULL);
    assert_int_equal(b.len, 0);
    vmmk__buf_free(&b);
}

static void test_escape_strict(void **state)
{
    vmmk__buf b = { 0 };
    assert_int_equal(vmmk__xml_escape_strict(&b, "p<w>&\xC3\xA9", "password"), 0);
    char *got = vmmk__buf_take(&b);
    assert_string_equal(got, "p&lt;w&gt;&amp;\xC3\xA9");
    free(got);
    assert_int_equal(vmmk__xml_escape_strict(&b, "secr\x01t", "password"), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "password: byte 4 is not valid UTF-8 or a character XML can carry");
    assert_int_equal(b.len, 0);
    assert_int_equal(vmmk__xml_escape_strict(&b, "ab\xFF", "user name"), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "user name: byte 2 is not valid UTF-8 or a character XML can carry");
    assert_int_equal(b.len, 0);
    vmmk__buf_free(&b);
}

/* Strings built into a request come back unchanged from the parser, in
 * element content and in attribute values. */
static void test_envelope_round_trip(void **state)
{
    static const char *const values[] = {
        "user", "a&b<c>d\"e'f", "  spaced  ", "tab\tnl\ncr\r", "]]> &amp; &#x41;",
        "\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80", "<![CDATA[x]]>", "<!DOCTYPE x>",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        vmmk__buf b = { 0 };
        vmmk__buf_puts(&b, "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">"
                           "SessionManager</_this><userName attr=\"");
        vmmk__xml_escape(&b, values[i]);
        vmmk__buf_puts(&b, "\">");
        assert_int_equal(vmmk__xml_escape_strict(&b, values[i], "userName"), 0);
        vmmk__buf_puts(&b, "</userName></Login>");
        char *frag = vmmk__buf_take(&b);
        char *env = vmmk__soap_envelope(frag);
        assert_non_null(env);
        assert_non_null(strstr(env, "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\""));
        assert_non_null(strstr(env, "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""));
        assert_non_null(strstr(env, "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""));
        assert_non_null(strstr(env, "<soapenv:Body>"));

        vmmk__soap_response r;
        int rc = vmmk__soap_parse(&r, "Login", env, strlen(env), 200);
        if (rc)
            print_error("%s\n", vmmk_error_last()->message);
        assert_int_equal(rc, 0);
        assert_string_equal((const char *)r.body->name, "Login");
        xmlNodePtr user = vmmk__xml_child(r.body, "userName");
        assert_non_null(user);
        char *text = vmmk__xml_text(user);
        assert_string_equal(text, values[i]);
        free(text);
        assert_attr(user, "attr", values[i]);
        assert_attr(vmmk__xml_child(r.body, "_this"), "type", "SessionManager");
        vmmk__soap_response_clear(&r);
        assert_null(r.doc);
        free(env);
        free(frag);
    }
    assert_null(vmmk__soap_envelope(NULL));
    assert_int_equal(vmmk_error_last()->code, VMMK_EINVAL);
}

/* ---- every captured vcsim response ---- */

static void test_service_content(void **state)
{
    vmmk__soap_response r;
    parse_ok(&r, DATA "01-RetrieveServiceContent.xml", "RetrieveServiceContent");
    assert_string_equal((const char *)r.body->name, "RetrieveServiceContentResponse");
    xmlNodePtr sc = vmmk__xml_child(r.body, "returnval");
    assert_non_null(sc);
    assert_child_text(sc, "rootFolder", "group-d1");
    assert_attr(vmmk__xml_child(sc, "rootFolder"), "type", "Folder");
    assert_child_text(sc, "propertyCollector", "propertyCollector");
    assert_attr(vmmk__xml_child(sc, "propertyCollector"), "type", "PropertyCollector");
    assert_child_text(sc, "sessionManager", "SessionManager");
    assert_child_text(sc, "searchIndex", "SearchIndex");
    assert_child_text(sc, "viewManager", "ViewManager");
    assert_child_text(sc, "virtualDiskManager", "virtualDiskManager");
    xmlNodePtr about = vmmk__xml_child(sc, "about");
    assert_child_text(about, "apiType", "VirtualCenter");
    assert_child_text(about, "apiVersion", "6.5");
    assert_child_text(about, "version", "6.5.0");
    assert_child_text(about, "instanceUuid", "dbed6e0c-bd88-4ef6-b594-21283e1c677f");
    long long build = 0;
    bool present = false;
    assert_int_equal(vmmk__xml_child_int64(about, "build", &build, &present), 0);
    assert_true(present);
    assert_int_equal(build, 5973321);
    assert_null(vmmk__xml_child(sc, "noSuchThing"));
    assert_null(vmmk__xml_child_text(sc, "noSuchThing"));
    assert_int_equal(vmmk__soap_missing_set_fault(r.body, "RetrieveServiceContent", 200), 0);
    vmmk__soap_response_clear(&r);
}

static void test_login(void **state)
{
    vmmk__soap_response r;
    parse_ok(&r, DATA "04-Login.xml", "Login");
    assert_string_equal((const char *)r.body->name, "LoginResponse");
    xmlNodePtr us = vmmk__xml_child(r.body, "returnval");
    assert_child_text(us, "key", "9db00d9c-6e38-4815-8048-bfc821af1542");
    assert_child_text(us, "userName", "user");
    assert_child_text(us, "loginTime", "2026-11-26T00:23:30.572238338Z");
    bool ext = true, present = false;
    assert_int_equal(vmmk__xml_child_bool(us, "extensionSession", &ext, &present), 0);
    assert_true(present);
    assert_false(ext);
    long long calls = 0;
    assert_int_equal(vmmk__xml_child_int64(us, "callCount", &calls, NULL), 0);
    assert_int_equal(calls, 1);
    vmmk__soap_response_clear(&r);
}

static void test_moref_replies(void **state)
{
    static const struct {
        const char *file, *method, *response, *type, *value;
    } cases[] = {
        { "05-FindByInventoryPath.xml", "FindByInventoryPath", "FindByInventoryPathResponse",
          "VirtualMachine", "vm-57" },
        { "07-CreateSnapshot_Task.xml", "CreateSnapshot_Task", "CreateSnapshot_TaskResponse",
          "Task", "task-68" },
        { "10-PowerOn-already-on.xml", "PowerOnVM_Task", "PowerOnVM_TaskResponse", "Task",
          "task-70" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, DATA "%s", cases[i].file);
        vmmk__soap_response r;
        parse_ok(&r, path, cases[i].method);
        assert_string_equal((const char *)r.body->name, cases[i].response);
        xmlNodePtr rv = vmmk__xml_child(r.body, "returnval");
        assert_attr(rv, "type", cases[i].type);
        char *v = vmmk__xml_text(rv);
        assert_string_equal(v, cases[i].value);
        free(v);
        vmmk__soap_response_clear(&r);
    }
}

/* The propSet whose name is @p name, or NULL. */
static xmlNodePtr prop(xmlNodePtr object_content, const char *name)
{
    for (xmlNodePtr p = vmmk__xml_child(object_content, "propSet"); p; p = vmmk__xml_next(p, "propSet")) {
        char *n = vmmk__xml_child_text(p, "name");
        bool match = n && strcmp(n, name) == 0;
        free(n);
        if (match)
            return vmmk__xml_child(p, "val");
    }
    return NULL;
}

static void test_vm_config(void **state)
{
    vmmk__soap_response r;
    parse_ok(&r, DATA "06-RetrieveProperties-VM-config.xml", "RetrieveProperties");
    xmlNodePtr oc = vmmk__xml_child(r.body, "returnval");
    assert_attr(vmmk__xml_child(oc, "obj"), "type", "VirtualMachine");
    assert_int_equal(vmmk__soap_missing_set_fault(r.body, "RetrieveProperties", 200), 0);

    /* vcsim's XMLSchema-instance:type, resolved through the namespace */
    xmlNodePtr name = prop(oc, "name");
    assert_type(name, "string");
    char *text = vmmk__xml_text(name);
    assert_string_equal(text, "DC0_H0_VM0");
    free(text);
    assert_type(prop(oc, "config.hardware.numCPU"), "int");
    assert_type(prop(oc, "runtime.powerState"), "VirtualMachinePowerState");

    xmlNodePtr devices = prop(oc, "config.hardware.device");
    assert_type(devices, "ArrayOfVirtualDevice");
    size_t n = 0, disks = 0;
    for (xmlNodePtr d = vmmk__xml_child(devices, "VirtualDevice"); d;
         d = vmmk__xml_next(d, "VirtualDevice")) {
        n++;
        char *t = vmmk__xml_type(d);
        assert_non_null(t);
        if (strcmp(t, "VirtualDisk") == 0) {
            disks++;
            long long key = 0, kb = 0;
            assert_int_equal(vmmk__xml_child_int64(d, "key", &key, NULL), 0);
            assert_int_equal(key, 255511522);
            assert_int_equal(vmmk__xml_child_int64(d, "capacityInKB", &kb, NULL), 0);
            assert_int_equal(kb, 1024);
            bool present = true;
            long long bytes = -1;
            assert_int_equal(vmmk__xml_child_int64(d, "capacityInBytes", &bytes, &present), 0);
            assert_false(present);       /* vcsim quirk: only capacityInKB */
            assert_int_equal(bytes, -1);
            xmlNodePtr backing = vmmk__xml_child(d, "backing");
            assert_type(backing, "VirtualDiskFlatVer2BackingInfo");
            assert_child_text(backing, "fileName", "[LocalDS_0] DC0_H0_VM0/disk1.vmdk");
            bool thin = false;
            assert_int_equal(vmmk__xml_child_bool(backing, "thinProvisioned", &thin, NULL), 0);
            assert_true(thin);
            assert_type(vmmk__xml_child(d, "deviceInfo"), "Description");
        }
        free(t);
    }
    assert_int_equal(n, 13);
    assert_int_equal(disks, 1);

    char *path = vmmk__xml_path(vmmk__xml_child(vmmk__xml_child(devices, "VirtualDevice"), "key"));
    assert_string_equal(path, "RetrievePropertiesResponse/returnval/propSet/val/VirtualDevice/key");
    free(path);
    vmmk__soap_response_clear(&r);
}

static void test_task_info(void **state)
{
    vmmk__soap_response r;
    parse_ok(&r, DATA "08-TaskInfo-success.xml", "RetrieveProperties");
    xmlNodePtr info = prop(vmmk__xml_child(r.body, "returnval"), "info");
    assert_type(info, "TaskInfo");
    assert_child_text(info, "state", "success");
    xmlNodePtr result = vmmk__xml_child(info, "result");
    assert_type(result, "ManagedObjectReference");
    assert_attr(result, "type", "VirtualMachineSnapshot");
    assert_null(vmmk__xml_child(info, "error"));
    vmmk__soap_response_clear(&r);
}

/* A failed task is an ordinary reply (HTTP 200, no SOAP fault): the
 * failure is TaskInfo.error, read with vmmk__soap_localized_fault. */
static void test_task_error(void **state)
{
    vmmk__soap_response r;
    size_t len;
    char *text = fixture(DATA "11-TaskInfo-error-InvalidPowerState.xml", &len);
    vmmk_error_clear();
    assert_int_equal(vmmk__soap_parse(&r, "RetrieveProperties", text, len, 200), 0);
    assert_int_equal(vmmk_error_last()->code, VMMK_OK);
    xmlNodePtr info = prop(vmmk__xml_child(r.body, "returnval"), "info");
    assert_child_text(info, "state", "error");
    xmlNodePtr err = vmmk__xml_child(info, "error");
    assert_non_null(err);
    assert_int_equal(vmmk__soap_localized_fault(err, "PowerOnVM_Task vm-57"), VMMK_ESTATE);
    const vmmk_error *e = vmmk_error_last();
    assert_string_equal(e->fault, "InvalidPowerState");
    assert_string_equal(e->message,
                        "PowerOnVM_Task vm-57: InvalidPowerState: *types.InvalidPowerState");
    assert_string_equal(e->detail, "*types.InvalidPowerState");
    vmmk__soap_response_clear(&r);

    /* Without a localizedMessage, the fault's fields say what happened. */
    char *bare = replace(text, "<localizedMessage>*types.InvalidPowerState</localizedMessage>", "");
    assert_int_equal(vmmk__soap_parse(&r, "RetrieveProperties", bare, strlen(bare), 200), 0);
    info = prop(vmmk__xml_child(r.body, "returnval"), "info");
    assert_int_equal(vmmk__soap_localized_fault(vmmk__xml_child(info, "error"), "PowerOn"),
                     VMMK_ESTATE);
    assert_string_equal(vmmk_error_last()->message,
                        "PowerOn: InvalidPowerState: requestedState=poweredOn, existingState=poweredOn");
    vmmk__soap_response_clear(&r);
    free(bare);
    free(text);
}

static void test_logout_and_cbt(void **state)
{
    vmmk__soap_response r;
    parse_ok(&r, DATA "12-Logout.xml", "Logout");
    assert_string_equal((const char *)r.body->name, "LogoutResponse");
    assert_null(vmmk__xml_child(r.body, NULL));
    vmmk__soap_response_clear(&r);

    parse_ok(&r, DATA "14-QueryChangedDiskAreas-vcsim-cbt-ext.xml", "QueryChangedDiskAreas");
    xmlNodePtr dc = vmmk__xml_child(r.body, "returnval");
    long long v = 0;
    assert_int_equal(vmmk__xml_child_int64(dc, "length", &v, NULL), 0);
    assert_int_equal(v, 67108864);
    static const long long want[][2] = { { 0, 1048576 }, { 10485760, 2097152 } };
    size_t i = 0;
    for (xmlNodePtr a = vmmk__xml_child(dc, "changedArea"); a; a = vmmk__xml_next(a, "changedArea"), i++) {
        assert_true(i < 2);
        long long start = -1, length = -1;
        assert_int_equal(vmmk__xml_child_int64(a, "start", &start, NULL), 0);
        assert_int_equal(vmmk__xml_child_int64(a, "length", &length, NULL), 0);
        assert_int_equal(start, want[i][0]);
        assert_int_equal(length, want[i][1]);
    }
    assert_int_equal(i, 2);
    vmmk__soap_response_clear(&r);
}

/* ---- faults ---- */

static void expect_fault(const char *text, long status, const char *method, int code,
                         const char *fault, const char *message, const char *detail)
{
    parse_fails(text, strlen(text), status, method, code, message, true);
    const vmmk_error *e = vmmk_error_last();
    assert_non_null(e->fault);
    assert_string_equal(e->fault, fault);
    if (detail) {
        assert_non_null(e->detail);
        assert_string_equal(e->detail, detail);
    }
    assert_int_equal(e->http_status, status);
}

static void test_fault_invalid_login(void **state)
{
    char *text = fixture(DATA "02-Login-InvalidLogin-fault.xml", NULL);
    expect_fault(text, 500, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 "Login failure");

    /* vcsim's other spelling: a local prefix bound to the XSI namespace */
    char *v1 = replace(text, "xsi:type=\"InvalidLogin\"",
                       "xmlns:XMLSchema-instance=\"http://www.w3.org/2001/XMLSchema-instance\" "
                       "XMLSchema-instance:type=\"InvalidLogin\"");
    expect_fault(v1, 500, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 "Login failure");
    /* any prefix, and a prefixed value */
    char *v2 = replace(text, "xsi:type=\"InvalidLogin\"",
                       "xmlns:q=\"http://www.w3.org/2001/XMLSchema-instance\" "
                       "xmlns:v=\"urn:vim25\" q:type=\"v:InvalidLogin\"");
    expect_fault(v2, 500, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 NULL);
    /* no xsi:type: the element name without "Fault" */
    char *v3 = replace(text, " xsi:type=\"InvalidLogin\"", "");
    expect_fault(v3, 500, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 NULL);
    /* the literal prefix "xsi" bound elsewhere is not the XSI type */
    char *v4 = replace(text, "xsi:type=\"InvalidLogin\"",
                       "xmlns:xsi=\"urn:not-xsi\" xsi:type=\"NoPermission\"");
    expect_fault(v4, 500, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 NULL);
    /* a fault is a fault whatever the status says */
    expect_fault(text, 200, "Login", VMMK_EAUTH, "InvalidLogin", "Login: InvalidLogin: Login failure",
                 NULL);
    free(v1);
    free(v2);
    free(v3);
    free(v4);
    free(text);
}

static void test_fault_not_authenticated(void **state)
{
    char *text = fixture(DATA "03-NotAuthenticated-fault.xml", NULL);
    /* vcsim sends no faultstring: the fault's fields stand in */
    expect_fault(text, 500, "RetrieveProperties", VMMK_EAUTH, "NotAuthenticated",
                 "RetrieveProperties: NotAuthenticated: object=VirtualMachine:vm-57, "
                 "privilegeId=System.View",
                 "object=VirtualMachine:vm-57, privilegeId=System.View");
    free(text);
}

static void test_fault_method_not_found(void **state)
{
    char *text = fixture(DATA "09-QueryChangedDiskAreas-MethodNotFound.xml", NULL);
    expect_fault(text, 500, "QueryChangedDiskAreas", VMMK_EUNSUPPORTED, "MethodNotFound",
                 "QueryChangedDiskAreas: MethodNotFound: VirtualMachine:vm-57 does not "
                 "implement: QueryChangedDiskAreas",
                 "VirtualMachine:vm-57 does not implement: QueryChangedDiskAreas");
    free(text);
}

static void test_fault_other_shapes(void **state)
{
    const char *head = "<?xml version=\"1.0\"?><soapenv:Envelope "
                       "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                       "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>";
    char *t;
    /* no detail: the faultcode names it, and the code is the generic one */
    t = vmmk__asprintf("%s<soapenv:Fault><faultcode>soapenv:Server</faultcode>"
                       "<faultstring>  internal\n error  </faultstring></soapenv:Fault>"
                       "</soapenv:Body></soapenv:Envelope>", head);
    expect_fault(t, 500, "CurrentTime", VMMK_EREMOTE, "Server",
                 "CurrentTime: Server: internal error", "internal error");
    free(t);
    /* vcsim's answer to a bad moref */
    t = vmmk__asprintf("%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>"
                       "managed object not found: VirtualMachine:vm-999</faultstring><detail>"
                       "<ManagedObjectNotFoundFault xmlns=\"urn:vim25\" xsi:type=\"ManagedObjectNotFound\">"
                       "<obj type=\"VirtualMachine\">vm-999</obj></ManagedObjectNotFoundFault>"
                       "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>", head);
    expect_fault(t, 500, "PowerOffVM_Task", VMMK_ENOTFOUND, "ManagedObjectNotFound",
                 "PowerOffVM_Task: ManagedObjectNotFound: managed object not found: "
                 "VirtualMachine:vm-999", NULL);
    free(t);
    /* the CBT extension's FileFault */
    t = vmmk__asprintf("%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>"
                       "change tracking is off</faultstring><detail><FileFaultFault "
                       "xmlns=\"urn:vim25\" xsi:type=\"FileFault\"><file>[LocalDS_0] a.vmdk</file>"
                       "</FileFaultFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
                       head);
    expect_fault(t, 500, "QueryChangedDiskAreas", VMMK_EIO, "FileFault",
                 "QueryChangedDiskAreas: FileFault: change tracking is off", NULL);
    free(t);
    /* a fault with neither text nor fields */
    t = vmmk__asprintf("%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring/>"
                       "<detail><RequestCanceledFault xmlns=\"urn:vim25\"/></detail></soapenv:Fault>"
                       "</soapenv:Body></soapenv:Envelope>", head);
    expect_fault(t, 500, "WaitForUpdatesEx", VMMK_ECANCELED, "RequestCanceled",
                 "WaitForUpdatesEx: RequestCanceled", NULL);
    assert_null(vmmk_error_last()->detail);
    free(t);
    /* a server that uses xsi: without declaring it (libxml2 only warns) */
    const char *u =
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body><soapenv:Fault><faultcode>x</faultcode><faultstring>oops</faultstring>"
        "<detail><SomeFault xmlns=\"urn:vim25\" xsi:type=\"NotAuthenticated\"/></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>";
    expect_fault(u, 500, "Login", VMMK_EAUTH, "NotAuthenticated", "Login: NotAuthenticated: oops",
                 "oops");
}

static void test_fault_table(void **state)
{
    static const struct {
        const char *type;
        int code;
    } cases[] = {
        { "InvalidLogin", VMMK_EAUTH }, { "NotAuthenticated", VMMK_EAUTH },
        { "NoPermission", VMMK_EAUTH }, { "PasswordExpired", VMMK_EAUTH },
        { "ManagedObjectNotFound", VMMK_ENOTFOUND }, { "FileNotFound", VMMK_ENOTFOUND },
        { "InvalidPowerState", VMMK_ESTATE }, { "InvalidState", VMMK_ESTATE },
        { "TaskInProgress", VMMK_ESTATE }, { "InvalidArgument", VMMK_EINVAL },
        { "InvalidRequest", VMMK_EINVAL }, { "InvalidType", VMMK_EINVAL },
        { "InvalidProperty", VMMK_EINVAL }, { "MethodNotFound", VMMK_EUNSUPPORTED },
        { "NotSupported", VMMK_EUNSUPPORTED }, { "NotImplemented", VMMK_EUNSUPPORTED },
        { "DuplicateName", VMMK_EEXISTS }, { "AlreadyExists", VMMK_EEXISTS },
        { "FileAlreadyExists", VMMK_EEXISTS }, { "RequestCanceled", VMMK_ECANCELED },
        { "Timedout", VMMK_ETIMEOUT }, { "ConcurrentAccess", VMMK_ECONFLICT },
        { "HostNotConnected", VMMK_ENETWORK }, { "FileFault", VMMK_EIO },
        { "CannotAccessFile", VMMK_EIO }, { "FileLocked", VMMK_EIO }, { "NoDiskSpace", VMMK_EIO },
        /* families by name */
        { "DatastoreNotFound", VMMK_ENOTFOUND }, { "InvalidVmState", VMMK_ESTATE },
        { "DeviceNotSupported", VMMK_EUNSUPPORTED }, { "ProfileAlreadyExists", VMMK_EEXISTS },
        /* everything else */
        { "SystemError", VMMK_EREMOTE }, { "RuntimeFault", VMMK_EREMOTE },
        { "", VMMK_EREMOTE }, { NULL, VMMK_EREMOTE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (vmmk__soap_fault_code(cases[i].type) != cases[i].code)
            print_error("%s\n", cases[i].type ? cases[i].type : "(null)");
        assert_int_equal(vmmk__soap_fault_code(cases[i].type), cases[i].code);
    }
}

/* vcsim answers RetrieveProperties without a session with HTTP 200 and the
 * fault in missingSet. */
static void test_missing_set(void **state)
{
    size_t len;
    char *text = fixture(DATA "13-RetrieveProperties-after-logout-missingSet.xml", &len);
    vmmk__soap_response r;
    assert_int_equal(vmmk__soap_parse(&r, "RetrieveProperties", text, len, 200), 0);
    const char *want = "RetrieveProperties: NotAuthenticated: object=VirtualMachine:vm-57, "
                       "privilegeId=System.Read (property 'name' of VirtualMachine:vm-57)";
    assert_int_equal(vmmk__soap_missing_set_fault(r.body, "RetrieveProperties", 200), VMMK_EAUTH);
    const vmmk_error *e = vmmk_error_last();
    assert_string_equal(e->message, want);
    assert_string_equal(e->fault, "NotAuthenticated");
    assert_int_equal(e->http_status, 200);
    /* an ObjectContent directly */
    assert_int_equal(vmmk__soap_missing_set_fault(vmmk__xml_child(r.body, "returnval"),
                                                  "RetrieveProperties", 200), VMMK_EAUTH);
    assert_string_equal(vmmk_error_last()->message, want);
    vmmk__soap_response_clear(&r);

    /* RetrievePropertiesEx wraps ObjectContent in RetrieveResult.objects */
    char *ex = replace(text, "<RetrievePropertiesResponse xmlns=\"urn:vim25\"><returnval>",
                       "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects>");
    char *ex2 = replace(ex, "</returnval></RetrievePropertiesResponse>",
                        "</objects></returnval></RetrievePropertiesExResponse>");
    assert_int_equal(vmmk__soap_parse(&r, "RetrievePropertiesEx", ex2, strlen(ex2), 200), 0);
    assert_int_equal(vmmk__soap_missing_set_fault(r.body, "RetrievePropertiesEx", 200), VMMK_EAUTH);
    assert_string_equal(vmmk_error_last()->fault, "NotAuthenticated");
    vmmk__soap_response_clear(&r);
    free(ex);
    free(ex2);
    assert_int_equal(vmmk__soap_missing_set_fault(NULL, "RetrieveProperties", 200), 0);
    free(text);
}

/* ---- helpers ---- */

static void test_numbers_and_paths(void **state)
{
    const char *doc =
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body><R xmlns=\"urn:vim25\"><returnval>"
        "<n>12x</n><big>99999999999999999999</big><neg> -5 </neg><plus>+7</plus><empty/>"
        "<b>maybe</b><t>1</t><f> false </f><max>9223372036854775807</max>"
        "<o:v xmlns:o=\"urn:other\">1</o:v><v>2</v>"
        "</returnval></R></soapenv:Body></soapenv:Envelope>";
    vmmk__soap_response r;
    assert_int_equal(vmmk__soap_parse(&r, "Test", doc, strlen(doc), 200), 0);
    xmlNodePtr rv = vmmk__xml_child(r.body, "returnval");
    long long v = 42;
    bool present = true, b = false;

    assert_int_equal(vmmk__xml_child_int64(rv, "n", &v, &present), VMMK_EPARSE);
    assert_string_equal(vmmk_error_last()->message,
                        "R/returnval/n: not a 64-bit integer: \"12x\"");
    assert_false(present);
    assert_int_equal(v, 42);
    assert_int_equal(vmmk__xml_child_int64(rv, "big", &v, NULL), VMMK_EPARSE);
    assert_string_equal(vmmk_error_last()->message,
                        "R/returnval/big: not a 64-bit integer: \"99999999999999999999\"");
    assert_int_equal(vmmk__xml_child_int64(rv, "empty", &v, NULL), VMMK_EPARSE);
    assert_int_equal(vmmk__xml_child_int64(rv, "neg", &v, NULL), 0);
    assert_int_equal(v, -5);
    assert_int_equal(vmmk__xml_child_int64(rv, "plus", &v, NULL), 0);
    assert_int_equal(v, 7);
    assert_int_equal(vmmk__xml_child_int64(rv, "max", &v, NULL), 0);
    assert_true(v == 9223372036854775807LL);
    v = 42;
    assert_int_equal(vmmk__xml_child_int64(rv, "absent", &v, &present), 0);
    assert_false(present);
    assert_int_equal(v, 42);
    assert_int_equal(vmmk__xml_child_int64(rv, "absent", &v, NULL), VMMK_EPARSE);
    assert_string_equal(vmmk_error_last()->message,
                        "R/returnval/absent: missing (an integer expected)");

    assert_int_equal(vmmk__xml_child_bool(rv, "b", &b, NULL), VMMK_EPARSE);
    assert_string_equal(vmmk_error_last()->message, "R/returnval/b: not a boolean: \"maybe\"");
    assert_int_equal(vmmk__xml_child_bool(rv, "t", &b, &present), 0);
    assert_true(present);
    assert_true(b);
    assert_int_equal(vmmk__xml_child_bool(rv, "f", &b, NULL), 0);
    assert_false(b);

    /* other namespaces are skipped by the vim25 helpers, seen by _ns */
    assert_child_text(rv, "v", "2");
    xmlNodePtr o = vmmk__xml_child_ns(rv, "urn:other", "v");
    assert_non_null(o);
    assert_ptr_equal(vmmk__xml_child_ns(rv, NULL, "v"), o);
    assert_null(vmmk__xml_child(NULL, "v"));
    assert_null(vmmk__xml_next(NULL, "v"));
    assert_null(vmmk__xml_type(NULL));
    assert_null(vmmk__xml_type(rv));
    vmmk__soap_response_clear(&r);
}

/* ---- hostile and broken input ---- */

static void test_truncated(void **state)
{
    size_t len;
    char *text = fixture(DATA "01-RetrieveServiceContent.xml", &len);
    for (size_t cut = 1; cut < len - 30; cut += len / 7) {
        parse_fails(text, cut, 200, "RetrieveServiceContent", VMMK_EPARSE,
                    "RetrieveServiceContent: malformed XML response (line ", false);
    }
    parse_fails(text, len / 2, 200, "RetrieveServiceContent", VMMK_EPARSE,
                "RetrieveServiceContent: malformed XML response (line 2): ", false);
    /* libxml2's own words follow */
    assert_true(strlen(vmmk_error_last()->message) >
                strlen("RetrieveServiceContent: malformed XML response (line 2): "));
    free(text);
}

static void test_not_xml(void **state)
{
    const char *t = "hello, world";
    parse_fails(t, strlen(t), 200, "RetrieveProperties", VMMK_EPARSE,
                "RetrieveProperties: malformed XML response (line 1): Start tag expected", false);
    assert_string_equal(vmmk_error_last()->detail, "hello, world");
    t = "{\"json\": true}";
    parse_fails(t, strlen(t), 200, "RetrieveProperties", VMMK_EPARSE,
                "RetrieveProperties: malformed XML response", false);
    t = "<?xml version=\"1.0\"?><root><a>1</a></root>";
    parse_fails(t, strlen(t), 200, "RetrieveProperties", VMMK_EPARSE,
                "RetrieveProperties: response is not a SOAP envelope (root element <root>)", true);
    t = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Header/></soapenv:Envelope>";
    parse_fails(t, strlen(t), 200, "Login", VMMK_EPARSE,
                "Login: SOAP response without a soapenv:Body", true);
    t = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body> text only </soapenv:Body></soapenv:Envelope>";
    parse_fails(t, strlen(t), 200, "Login", VMMK_EPARSE,
                "Login: SOAP response with an empty soapenv:Body", true);
    /* Envelope in the wrong namespace (SOAP 1.2) */
    t = "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body><x/></e:Body>"
        "</e:Envelope>";
    parse_fails(t, strlen(t), 200, "Login", VMMK_EPARSE,
                "Login: response is not a SOAP envelope (root element <Envelope>)", true);
    /* invalid UTF-8 and an embedded NUL */
    static const char bad_utf8[] = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/"
                                   "soap/envelope/\"><soapenv:Body><x>\xff\xfe</x></soapenv:Body>"
                                   "</soapenv:Envelope>";
    parse_fails(bad_utf8, sizeof bad_utf8 - 1, 200, "Login", VMMK_EPARSE,
                "Login: malformed XML response", false);
    static const char nul[] = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/"
                              "soap/envelope/\"><soapenv:Body><x>a\0b</x></soapenv:Body>"
                              "</soapenv:Envelope>";
    parse_fails(nul, sizeof nul - 1, 200, "Login", VMMK_EPARSE, "Login: malformed XML response",
                false);
    /* an undeclared entity, with no DTD to declare it */
    t = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body><x>&xxe;</x></soapenv:Body></soapenv:Envelope>";
    parse_fails(t, strlen(t), 200, "Login", VMMK_EPARSE,
                "Login: malformed XML response (line 1): Entity 'xxe' not defined", true);
    /* SOAP but not the answer's status: a 500 without a fault */
    t = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
        "<soapenv:Body><LoginResponse xmlns=\"urn:vim25\"/></soapenv:Body></soapenv:Envelope>";
    parse_fails(t, strlen(t), 500, "Login", VMMK_EHTTP,
                "Login: HTTP status 500 with a SOAP response that is not a fault (<LoginResponse>)",
                true);
}

static void test_http_error_page(void **state)
{
    const char *html = "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title>"
                       "</head><body><h1>Service Unavailable</h1><p>The server is temporarily "
                       "unable to service your request due to maintenance downtime or capacity "
                       "problems. Please try again later.</p><hr><address>Apache Server at vc.example.com "
                       "Port 443</address></body></html>\n";
    parse_fails(html, strlen(html), 503, "RetrieveServiceContent", VMMK_EHTTP,
                "RetrieveServiceContent: HTTP status 503 without a SOAP response: <!DOCTYPE html> "
                "<html><head><title>503 Service Unavailable</title>",
                false);
    const vmmk_error *e = vmmk_error_last();
    assert_int_equal(e->http_status, 503);
    assert_null(e->fault);
    assert_non_null(e->detail);
    assert_true(strlen(e->detail) <= 203);
    assert_non_null(strstr(e->message, "..."));

    /* well-formed HTML with an error status, and with a 200 */
    const char *xhtml = "<html><body>Bad gateway</body></html>";
    parse_fails(xhtml, strlen(xhtml), 502, "Login", VMMK_EHTTP,
                "Login: HTTP status 502 without a SOAP response: <html><body>Bad gateway</body></html>",
                true);
    parse_fails(xhtml, strlen(xhtml), 200, "Login", VMMK_EPARSE,
                "Login: response is not a SOAP envelope (root element <html>)", true);

    /* the body's secrets do not reach the error */
    assert_int_equal(vmmk_secret_register("s3cr3t-session-id"), 0);
    const char *leak = "session s3cr3t-session-id expired; Cookie: vmware_soap_session=\"abcd1234\"";
    parse_fails(leak, strlen(leak), 401, "Login", VMMK_EHTTP,
                "Login: HTTP status 401 without a SOAP response: session *** expired", false);
    assert_null(strstr(vmmk_error_last()->message, "s3cr3t"));
    assert_null(strstr(vmmk_error_last()->detail, "s3cr3t"));
    assert_null(strstr(vmmk_error_last()->message, "abcd1234"));
    vmmk_secret_unregister("s3cr3t-session-id");
}

static void test_empty(void **state)
{
    parse_fails("", 0, 200, "Login", VMMK_EPARSE, "Login: empty response", true);
    parse_fails(NULL, 0, 0, "Login", VMMK_EPARSE, "Login: empty response", true);
    parse_fails(" \r\n\t", 4, 200, "Login", VMMK_EPARSE, "Login: empty response", true);
    parse_fails("", 0, 502, "Login", VMMK_EHTTP, "Login: HTTP status 502 with an empty body", true);
    parse_fails("", 0, 200, NULL, VMMK_EPARSE, "SOAP: empty response", true);
    assert_int_equal(vmmk__soap_parse(NULL, "Login", "x", 1, 200), VMMK_EINVAL);
}

static void test_doctype_refused(void **state)
{
    const char *refused = "RetrieveProperties: response refused: it has a document type "
                          "declaration (DOCTYPE), which SOAP does not allow";
    /* billion laughs: refused at the DOCTYPE, before any entity is read */
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for (int i = 1; i <= 9; i++) {
        vmmk__buf_printf(&b, "<!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++) {
            if (i == 1)
                vmmk__buf_puts(&b, "&lol;");
            else
                vmmk__buf_printf(&b, "&lol%d;", i - 1);
        }
        vmmk__buf_puts(&b, "\">\n");
    }
    vmmk__buf_puts(&b, "]>\n<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/"
                       "envelope/\"><soapenv:Body><x>&lol9;</x></soapenv:Body></soapenv:Envelope>");
    char *bomb = vmmk__buf_take(&b);
    parse_fails(bomb, strlen(bomb), 200, "RetrieveProperties", VMMK_EPARSE, refused, true);
    free(bomb);

    /* external entity (XXE) and external DTD */
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                      "<soapenv:Body><x>&xxe;</x></soapenv:Body></soapenv:Envelope>";
    parse_fails(xxe, strlen(xxe), 200, "RetrieveProperties", VMMK_EPARSE, refused, true);
    const char *ext = "<!DOCTYPE x SYSTEM \"http://127.0.0.1:9/evil.dtd\">"
                      "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                      "<soapenv:Body><x/></soapenv:Body></soapenv:Envelope>";
    parse_fails(ext, strlen(ext), 200, "RetrieveProperties", VMMK_EPARSE, refused, true);
    /* a parameter entity bomb inside the subset */
    const char *pe = "<!DOCTYPE x [<!ENTITY % a \"<!ENTITY b 'c'>\"> %a;]><x/>";
    parse_fails(pe, strlen(pe), 200, "RetrieveProperties", VMMK_EPARSE, refused, true);
}

static void test_deep_nesting(void **state)
{
    const char *head = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                       "<soapenv:Body><R xmlns=\"urn:vim25\">";
    const char *tail = "</R></soapenv:Body></soapenv:Envelope>";
    for (int depth = 200; depth <= 10000; depth += 9800) {
        vmmk__buf b = { 0 };
        vmmk__buf_puts(&b, head);
        for (int i = 0; i < depth; i++)
            vmmk__buf_puts(&b, "<a>");
        vmmk__buf_puts(&b, "<n>5</n>");
        for (int i = 0; i < depth; i++)
            vmmk__buf_puts(&b, "</a>");
        vmmk__buf_puts(&b, tail);
        char *doc = vmmk__buf_take(&b);
        if (depth == 200) {
            /* within libxml2's bound: fine, and paths are clipped */
            vmmk__soap_response r;
            assert_int_equal(vmmk__soap_parse(&r, "Deep", doc, strlen(doc), 200), 0);
            xmlNodePtr a = r.body;
            for (int i = 0; i < depth; i++)
                a = vmmk__xml_child(a, "a");
            assert_non_null(a);
            char *path = vmmk__xml_path(vmmk__xml_child(a, "n"));
            assert_non_null(path);
            assert_memory_equal(path, ".../a/a/", 8);
            assert_true(strlen(path) < 200);
            free(path);
            vmmk__soap_response_clear(&r);
        } else {
            parse_fails(doc, strlen(doc), 200, "Deep", VMMK_EPARSE,
                        "Deep: malformed XML response (line 1): Excessive depth in document: 256",
                        false);
        }
        free(doc);
    }
}

/* A reply under ENV_HEAD, with @p inner between <R> and </R>. */
static char *in_envelope(const char *r_attrs, const char *inner)
{
    return vmmk__asprintf("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                          "<soapenv:Body><R xmlns=\"urn:vim25\"%s>%s</R></soapenv:Body>"
                          "</soapenv:Envelope>",
                          r_attrs, inner);
}

static void parses(const char *doc)
{
    vmmk__soap_response r;
    int rc = vmmk__soap_parse(&r, "Limits", doc, strlen(doc), 200);
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    vmmk__soap_response_clear(&r);
}

/* libxml2 < 2.11 is quadratic in the attributes of a tag and in the
 * namespace declarations in scope: more than 256 of either is refused
 * before parsing, and what looks like attributes in comments, CDATA,
 * processing instructions and quoted values does not count. */
static void test_attribute_limits(void **state)
{
    (void)state;
    vmmk__buf a = { 0 };
    for (int i = 0; i < 255; i++)      /* + xmlns on <R>: 256 */
        vmmk__buf_printf(&a, " a%d='x'", i);
    char *attrs = vmmk__buf_take(&a);
    char *doc = in_envelope(attrs, "<n>1</n>");
    parses(doc);
    free(doc);
    char *more = vmmk__asprintf("%s b=\"1\"", attrs);
    doc = in_envelope(more, "<n>1</n>");
    parse_fails(doc, strlen(doc), 200, "Limits", VMMK_EPARSE,
                "Limits: response refused: it has a start tag with more than 256 attributes",
                false);
    free(doc);
    free(more);
    /* An error status: the body is quoted, as for any non-SOAP reply. */
    more = vmmk__asprintf("%s b=\"1\"", attrs);
    doc = in_envelope(more, "");
    parse_fails(doc, strlen(doc), 500, "Limits", VMMK_EHTTP, "Limits: HTTP status 500", false);
    free(doc);
    free(more);
    free(attrs);

    /* Not attributes: markup in comments, CDATA, PIs and quoted values. */
    vmmk__buf t = { 0 };
    vmmk__buf_puts(&t, "<!-- <x");
    for (int i = 0; i < 300; i++)
        vmmk__buf_printf(&t, " c%d='1'", i);
    vmmk__buf_puts(&t, "> --><![CDATA[<y");
    for (int i = 0; i < 300; i++)
        vmmk__buf_printf(&t, " d%d='1'", i);
    vmmk__buf_puts(&t, ">]]><?pi <z");
    for (int i = 0; i < 300; i++)
        vmmk__buf_printf(&t, " e%d='1'", i);
    vmmk__buf_puts(&t, "?><v q=\"");
    for (int i = 0; i < 300; i++)
        vmmk__buf_printf(&t, " f%d='&gt;/'", i);
    vmmk__buf_puts(&t, "\" w='a b c'/>");
    char *inner = vmmk__buf_take(&t);
    doc = in_envelope("", inner);
    parses(doc);
    free(doc);
    free(inner);

    /* Namespace declarations: counted while in scope, released at the end tag. */
    vmmk__buf n = { 0 };
    for (int s = 0; s < 50; s++) {     /* siblings: 200 each, never 256 at once */
        vmmk__buf_puts(&n, "<s");
        for (int i = 0; i < 200; i++)
            vmmk__buf_printf(&n, " xmlns:p%d=\"urn:x%d\"", i, i);
        vmmk__buf_puts(&n, s % 2 ? "/>" : "><p7:c/></s>");
    }
    inner = vmmk__buf_take(&n);
    doc = in_envelope("", inner);
    parses(doc);
    free(doc);
    free(inner);
    /* 2 (soapenv on the envelope, the default on R) + 2 x 127 = 256 in
     * scope: fine; one more is not. */
    for (int extra = 0; extra < 2; extra++) {
        vmmk__buf d = { 0 };
        for (int level = 0; level < 2; level++) {
            vmmk__buf_puts(&d, "<l");
            for (int i = 0; i < 127 + (level == 1 ? extra : 0); i++)
                vmmk__buf_printf(&d, " xmlns:q%d_%d='urn:y'", level, i);
            vmmk__buf_puts(&d, ">");
        }
        vmmk__buf_puts(&d, "</l></l>");
        inner = vmmk__buf_take(&d);
        doc = in_envelope("", inner);
        if (!extra)
            parses(doc);
        else
            parse_fails(doc, strlen(doc), 200, "Limits", VMMK_EPARSE,
                        "Limits: response refused: it has more than 256 namespace declarations "
                        "in scope",
                        false);
        free(doc);
        free(inner);
    }
}

static void test_huge_attribute(void **state)
{
    size_t n = 11u * 1000u * 1000u;   /* past libxml2's 10 MB limit for one value */
    const char *head = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                       "<soapenv:Body><R xmlns=\"urn:vim25\" a=\"";
    const char *tail = "\"/></soapenv:Body></soapenv:Envelope>";
    size_t hl = strlen(head), tl = strlen(tail);
    char *doc = malloc(hl + n + tl + 1);
    assert_non_null(doc);
    memcpy(doc, head, hl);
    memset(doc + hl, 'A', n);
    memcpy(doc + hl + n, tail, tl + 1);
    parse_fails(doc, hl + n + tl, 200, "RetrieveProperties", VMMK_EPARSE,
                "RetrieveProperties: malformed XML response (line 1): AttValue length too long",
                true);
    /* a long fault type and faultstring are clipped in the message */
    free(doc);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                       "<soapenv:Body><soapenv:Fault><faultcode>x</faultcode><faultstring>");
    for (int i = 0; i < 20000; i++)
        vmmk__buf_puts(&b, "long ");
    vmmk__buf_puts(&b, "</faultstring><detail><");
    for (int i = 0; i < 5000; i++)
        vmmk__buf_puts(&b, "T");
    vmmk__buf_puts(&b, "Fault/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>");
    doc = vmmk__buf_take(&b);
    parse_fails(doc, strlen(doc), 500, "Login", VMMK_EREMOTE, "Login: TTTT", false);
    const vmmk_error *e = vmmk_error_last();
    assert_true(strlen(e->fault) <= 131);
    assert_true(strlen(e->message) < 1300);
    assert_true(strlen(e->detail) <= 4099);
    free(doc);
}

static void test_size_bound(void **state)
{
    size_t n = VMMK_MAX_DOCUMENT + 1u;
    char *big = calloc(1, n);   /* untouched pages: nothing is read */
    assert_non_null(big);
    parse_fails(big, n, 200, "RetrieveProperties", VMMK_EPARSE,
                "RetrieveProperties: response of 67108865 bytes is larger than the 64 MiB limit",
                true);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_strict),
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_service_content),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_moref_replies),
        cmocka_unit_test(test_vm_config),
        cmocka_unit_test(test_task_info),
        cmocka_unit_test(test_task_error),
        cmocka_unit_test(test_logout_and_cbt),
        cmocka_unit_test(test_fault_invalid_login),
        cmocka_unit_test(test_fault_not_authenticated),
        cmocka_unit_test(test_fault_method_not_found),
        cmocka_unit_test(test_fault_other_shapes),
        cmocka_unit_test(test_fault_table),
        cmocka_unit_test(test_missing_set),
        cmocka_unit_test(test_numbers_and_paths),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_xml),
        cmocka_unit_test(test_http_error_page),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_doctype_refused),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_attribute_limits),
        cmocka_unit_test(test_huge_attribute),
        cmocka_unit_test(test_size_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
