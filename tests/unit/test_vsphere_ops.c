/* vSphere tasks, snapshots, CBT, power and datastore access against
 * VMware's vcsim with the CBT extension (tests/vsphere/vcsim.sh,
 * docs/vcsim.md); govc, built from the same source, cross-checks what
 * libvmmk wrote and read.  Every test skips when vcsim is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <vmmk/vmmk.h>
#include "process_fixture.h"
#include "common/internal.h"
#include "vsphere/session.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define BS (64 * KIB)                 /* the extension's tracking block */
#define DISK_KEY 255511522             /* DC0_H0_VM0's disk (docs/vcsim.md) */
#define DISK_FILE "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"
#define FLAT_FILE "[LocalDS_0] DC0_H0_VM0/disk1-flat.vmdk"

typedef struct peer {
    char state[64], url[256], sha1[128], govc[512], pem[128];
    bool up;
} peer;

static peer P;        /* the instance all tests share */
static peer W;        /* test_cbt_window's own, with a 16 MiB window */
static char work[64]; /* scratch files */

/* Run @p argv (argv[0] a path; no shell) with the "NAME=VALUE" strings of
 * @p env added to the environment; stdout into @p buf (NULL: dropped). */
static int run_argv(char *buf, size_t size, char *const argv[], char *const env[])
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        for (size_t i = 0; env[i]; i++)
            putenv(env[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    char sink[256];
    size_t n = 0;
    ssize_t r;
    while ((r = buf ? read(fds[0], buf + n, size - n - 1) : read(fds[0], sink, sizeof sink)) > 0)
        if (buf && (n += (size_t)r) + 1 >= size)
            break;
    if (buf)
        buf[n] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* tests/vsphere/vcsim.sh ARG [EXTRA...] for @p state, with
 * VMMK_CBT_MAX_SPAN=@p span when given. */
static int vcsim_sh(const char *state, const char *arg, const char *span, char *buf, size_t size,
                    const char *const *extra)
{
    char *argv[12] = { "/bin/bash", VMMK_SOURCE_DIR "/tests/vsphere/vcsim.sh", (char *)arg };
    for (int i = 0; extra && extra[i] && i < 8; i++)
        argv[3 + i] = (char *)extra[i];
    char st[96], sp[64];
    snprintf(st, sizeof st, "VMMK_VCSIM_STATE=%s", state);
    snprintf(sp, sizeof sp, "VMMK_CBT_MAX_SPAN=%s", span ? span : "");
    char *env[] = { st, span ? sp : NULL, NULL };
    return run_argv(buf, size, argv, env);
}

/* A self-signed P-256 certificate for 127.0.0.1 for vcsim to serve: its
 * built-in one has a 1024-bit RSA key, which OpenSSL's default security
 * level refuses, and a CA file (rather than a pin) is what the datastore
 * source needs. */
static bool make_cert(const char *cert_file, const char *key_file)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    bool ok = false;
    if (key && x) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 2 * 24 * 3600);
        X509_set_pubkey(x, key);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
        X509_set_issuer_name(x, n);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
        X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
        ok = san && bc && X509_add_ext(x, san, -1) && X509_add_ext(x, bc, -1) &&
             X509_sign(x, key, EVP_sha256()) > 0;
        X509_EXTENSION_free(san);
        X509_EXTENSION_free(bc);
        FILE *c = ok ? fopen(cert_file, "w") : NULL, *k = ok ? fopen(key_file, "w") : NULL;
        ok = c && k && PEM_write_X509(c, x) && PEM_write_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL);
        ok = (!c || fclose(c) == 0) && (!k || fclose(k) == 0) && ok;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

/* Start an instance serving our certificate: fills url, sha1, govc, pem. */
static bool peer_start(peer *p, const char *span)
{
    char out[512], key[128];
    strcpy(p->state, "/tmp/vmmk-test-ops-XXXXXX");
    if (!mkdtemp(p->state))
        return false;
    snprintf(p->pem, sizeof p->pem, "%s/server.pem", p->state);
    snprintf(key, sizeof key, "%s/server.key", p->state);
    if (!make_cert(p->pem, key))
        return false;
    const char *const extra[] = { "-tlscert", p->pem, "-tlskey", key, NULL };
    if (vcsim_sh(p->state, "start", span, out, sizeof out, extra) != 0) {
        fprintf(stderr, "vcsim could not be started (run tests/vsphere/vcsim.sh build): %s\n", out);
        return false;
    }
    char *sp = strchr(out, ' ');
    if (!sp)
        return false;
    snprintf(p->url, sizeof p->url, "%s", sp + 1);
    p->url[strcspn(p->url, "\n")] = '\0';
    p->up = true;
    char *tp = NULL;
    if (vmmk_vsphere_thumbprint(&tp, p->url, false))
        return false;
    snprintf(p->sha1, sizeof p->sha1, "%s", tp);
    vmmk_string_free(tp);
    char dir[400];
    if (vcsim_sh(p->state, "bindir", NULL, dir, sizeof dir, NULL) != 0)
        return false;
    dir[strcspn(dir, "\n")] = '\0';
    snprintf(p->govc, sizeof p->govc, "%s/govc", dir);
    return true;
}

static void peer_stop(peer *p)
{
    if (p->up)
        vcsim_sh(p->state, "stop", NULL, NULL, 0, NULL);
    p->up = false;
    if (p->state[0])   /* vcsim.sh's files, its log, our certificate */
        (void)remove_tree(p->state);
    p->state[0] = '\0';
}

/* govc ARGS... against @p p; stdout into buf (may be NULL). */
static int govc(const peer *p, char *buf, size_t size, const char *const *args)
{
    char *argv[16] = { (char *)p->govc };
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    char url[300];
    snprintf(url, sizeof url, "GOVC_URL=%s", p->url);
    char *env[] = { url, "GOVC_USERNAME=user", "GOVC_PASSWORD=pass", "GOVC_INSECURE=1",
                    "GOVC_PERSIST_SESSION=false", NULL };
    return run_argv(buf, size, argv, env);
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(work, "/tmp/vmmk-test-ops-work-XXXXXX");
    if (!mkdtemp(work))
        return -1;
    if (!peer_start(&P, NULL))
        peer_stop(&P);   /* each test skips */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    peer_stop(&P);
    peer_stop(&W);      /* when test_cbt_window failed half way */
    rmdir(work);
    return 0;
}

#define NEED_PEER()                                                                                \
    do {                                                                                           \
        if (!P.up)                                                                                 \
            skip();                                                                                \
    } while (0)

static vmmk_vsphere *connect_to(const peer *p, bool by_ca)
{
    vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
    o.server = p->url;
    o.user = "user";
    o.password = "pass";
    o.timeout = 60;
    if (by_ca)
        o.cacert = p->pem;
    else
        o.thumbprint = p->sha1;
    vmmk_vsphere *vs = NULL;
    int rc = vmmk_vsphere_connect(&vs, &o);
    if (rc)
        print_error("connect: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    return vs;
}

static char *find_vm(vmmk_vsphere *vs, const char *name)
{
    char *m = NULL;
    assert_int_equal(vmmk_vsphere_find_vm(&m, vs, name), 0);
    return m;
}

#define ASSERT_OK(call)                                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_)                                                                                   \
            print_error("%s: %s\n", #call, vmmk_error_last()->message);                           \
        assert_int_equal(rc_, 0);                                                                  \
    } while (0)

/* ---- tasks and snapshots -------------------------------------------------- */

static void test_snapshots(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere *vs = connect_to(&P, false);
    char *vm = find_vm(vs, "DC0_H0_VM1");
    char *a1 = NULL, *b = NULL, *a2 = NULL, *m = NULL;
    ASSERT_OK(vmmk_vsphere_snapshot_create(&a1, vs, vm, "a", "first one", false));
    ASSERT_OK(vmmk_vsphere_snapshot_create(&b, vs, vm, "b", NULL, true));
    ASSERT_OK(vmmk_vsphere_snapshot_create(&a2, vs, vm, "a", "again", false));
    assert_int_equal(strncmp(a1, "snapshot-", 9), 0);

    vmmk_vsphere_snapshots *l = NULL;
    ASSERT_OK(vmmk_vsphere_snapshot_list(&l, vs, vm));
    assert_int_equal(l->n, 3);
    /* Depth first: a1, then its child b, then b's child a2. */
    assert_string_equal(l->items[0].moref, a1);
    assert_null(l->items[0].parent);
    assert_string_equal(l->items[0].description, "first one");
    assert_string_equal(l->items[1].moref, b);
    assert_string_equal(l->items[1].parent, a1);
    assert_string_equal(l->items[1].description, "");
    assert_true(l->items[1].quiesced);
    assert_string_equal(l->items[2].parent, b);
    assert_true(l->items[2].current && !l->items[0].current && !l->items[1].current);
    assert_string_equal(l->items[0].power_state, "poweredOn");
    assert_true(strlen(l->items[0].create_time) >= 20);
    vmmk_vsphere_snapshots_free(l);

    /* govc sees the same tree. */
    char out[2048];
    assert_int_equal(govc(&P, out, sizeof out,
                          (const char *const[]){ "snapshot.tree", "-vm", "DC0_H0_VM1", "-i", NULL }), 0);
    char want[64];
    snprintf(want, sizeof want, "[%s]  b", b);
    assert_non_null(strstr(out, want));

    assert_int_equal(vmmk_vsphere_snapshot_find(&m, vs, vm, "a"), VMMK_ECONFLICT);
    assert_non_null(strstr(vmmk_error_last()->message, a1));
    assert_non_null(strstr(vmmk_error_last()->message, a2));
    assert_int_equal(vmmk_vsphere_snapshot_find(&m, vs, vm, "nope"), VMMK_ENOTFOUND);
    assert_non_null(strstr(vmmk_error_last()->message, "\"nope\""));
    ASSERT_OK(vmmk_vsphere_snapshot_find(&m, vs, vm, "b"));
    assert_string_equal(m, b);
    vmmk_string_free(m);
    ASSERT_OK(vmmk_vsphere_snapshot_find(&m, vs, vm, a2));   /* a moref names one too */
    assert_string_equal(m, a2);
    vmmk_string_free(m);
    assert_int_equal(vmmk_vsphere_snapshot_create(&m, vs, vm, "", NULL, false), VMMK_EINVAL);

    /* Removing b keeps a2, now under a1. */
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, b, false));
    ASSERT_OK(vmmk_vsphere_snapshot_list(&l, vs, vm));
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[1].moref, a2);
    assert_string_equal(l->items[1].parent, a1);
    vmmk_vsphere_snapshots_free(l);
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, a1, true));
    ASSERT_OK(vmmk_vsphere_snapshot_list(&l, vs, vm));
    assert_int_equal(l->n, 0);
    vmmk_vsphere_snapshots_free(l);

    assert_int_equal(vmmk_vsphere_snapshot_remove(vs, a1, false), VMMK_ENOTFOUND);
    assert_string_equal(vmmk_error_last()->fault, "ManagedObjectNotFound");
    assert_int_equal(vmmk_vsphere_task_wait(NULL, vs, "task-99999", 5), VMMK_ENOTFOUND);
    vmmk_string_free(a1);
    vmmk_string_free(b);
    vmmk_string_free(a2);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
}

/* All four backing types the reference reads changeId from, and others:
 * vcsim makes only FlatVer2, so the parser gets a synthetic device list. */
static void test_disk_backings(void **state)
{
    (void)state;
    static const char xml[] =
        "<val xmlns='urn:vim25' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>"
        "<VirtualDevice xsi:type='VirtualIDEController'><key>200</key></VirtualDevice>"
        "<VirtualDevice xsi:type='VirtualDisk'><key>2000</key><backing xsi:type='VirtualDiskFlatVer2BackingInfo'>"
        "<fileName>[ds1] vm/vm-000001.vmdk</fileName><changeId>52 aa/1</changeId></backing>"
        "<capacityInKB>1024</capacityInKB><capacityInBytes>1048576</capacityInBytes></VirtualDevice>"
        "<VirtualDevice xsi:type='VirtualDisk'><key>2001</key><backing xsi:type='VirtualDiskSparseVer2BackingInfo'>"
        "<fileName>[ds1] vm/b.vmdk</fileName><changeId>52 bb/2</changeId></backing>"
        "<capacityInKB>2048</capacityInKB></VirtualDevice>"
        "<VirtualDevice xsi:type='VirtualDisk'><key>2002</key><backing xsi:type='VirtualDiskRawDiskMappingVer1BackingInfo'>"
        "<fileName>[ds2] vm/rdm.vmdk</fileName><changeId>52 cc/3</changeId></backing>"
        "<capacityInKB>0</capacityInKB><capacityInBytes>5368709120</capacityInBytes></VirtualDevice>"
        "<VirtualDevice xsi:type='VirtualDisk'><key>2003</key><backing xsi:type='VirtualDiskRawDiskVer2BackingInfo'>"
        "<deviceName>/vmfs/devices/disks/naa.1</deviceName><descriptorFileName>[ds2] vm/raw.vmdk</descriptorFileName>"
        "<changeId>52 dd/4</changeId></backing><capacityInKB>4</capacityInKB></VirtualDevice>"
        "<VirtualDevice xsi:type='VirtualDisk'><key>2004</key><backing xsi:type='VirtualDiskSeSparseBackingInfo'>"
        "<fileName>[ds1] vm/se.vmdk</fileName></backing><capacityInKB>8</capacityInKB></VirtualDevice>"
        "</val>";
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    vmmk_vsphere_snapshot_disk_list *l = NULL;
    ASSERT_OK(vmmk__vs_parse_disks(&l, xmlDocGetRootElement(doc), "test"));
    assert_int_equal(l->n, 5);
    static const struct { int32_t key; const char *file, *cid; uint64_t cap; } want[] = {
        { 2000, "[ds1] vm/vm-000001.vmdk", "52 aa/1", 1048576 },
        { 2001, "[ds1] vm/b.vmdk", "52 bb/2", 2048 * KIB },
        { 2002, "[ds2] vm/rdm.vmdk", "52 cc/3", 5368709120ull },
        { 2003, "[ds2] vm/raw.vmdk", "52 dd/4", 4 * KIB },
        { 2004, "[ds1] vm/se.vmdk", NULL, 8 * KIB },
    };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(l->items[i].key, want[i].key);
        assert_string_equal(l->items[i].file_name, want[i].file);
        if (want[i].cid)
            assert_string_equal(l->items[i].change_id, want[i].cid);
        else
            assert_null(l->items[i].change_id);
        assert_int_equal(l->items[i].capacity, want[i].cap);
    }
    assert_string_equal(l->items[3].backing_type, "VirtualDiskRawDiskVer2BackingInfo");
    vmmk_vsphere_snapshot_disk_list_free(l);
    xmlFreeDoc(doc);
}

/* ---- power ---------------------------------------------------------------- */

static void test_power(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere *vs = connect_to(&P, false);
    char *vm = find_vm(vs, "DC0_C0_RP0_VM0");
    vmmk_power_state st;
    vmmk_vsphere_power_how how;
    ASSERT_OK(vmmk_vsphere_power_get(&st, vs, vm));
    assert_int_equal(st, VMMK_POWER_ON);

    ASSERT_OK(vmmk_vsphere_power_off(&how, vs, vm, false, 10));
    assert_int_equal(how, VMMK_VSPHERE_POWER_GUEST);
    ASSERT_OK(vmmk_vsphere_power_get(&st, vs, vm));
    assert_int_equal(st, VMMK_POWER_OFF);
    ASSERT_OK(vmmk_vsphere_power_off(&how, vs, vm, false, 10));    /* already off: fine */
    assert_int_equal(how, VMMK_VSPHERE_POWER_ALREADY);

    /* The raw task does fail, and its fault comes through the task wait. */
    char body[256];
    snprintf(body, sizeof body,
             "<PowerOffVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">%s</_this>"
             "</PowerOffVM_Task>", vm);
    assert_int_equal(vmmk__vs_task_call(NULL, vs, "PowerOffVM_Task", body, 10), VMMK_ESTATE);
    const vmmk_error *e = vmmk_error_last();
    assert_string_equal(e->fault, "InvalidPowerState");
    assert_non_null(strstr(e->message, "VirtualMachine.powerOff"));
    assert_non_null(strstr(e->message, "task-"));

    ASSERT_OK(vmmk_vsphere_power_on(&how, vs, vm, 10));
    assert_int_equal(how, VMMK_VSPHERE_POWER_TASK);
    ASSERT_OK(vmmk_vsphere_power_on(&how, vs, vm, 10));
    assert_int_equal(how, VMMK_VSPHERE_POWER_ALREADY);
    assert_int_equal(vmmk_vsphere_power_wait(vs, vm, VMMK_POWER_OFF, 1), VMMK_ETIMEOUT);
    assert_non_null(strstr(vmmk_error_last()->message, "poweredOn"));

    ASSERT_OK(vmmk_vsphere_power_off(&how, vs, vm, true, 0));
    assert_int_equal(how, VMMK_VSPHERE_POWER_TASK);
    ASSERT_OK(vmmk_vsphere_power_wait(vs, vm, VMMK_POWER_OFF, 1));
    ASSERT_OK(vmmk_vsphere_power_on(NULL, vs, vm, 0));
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
}

/* ---- datastore ------------------------------------------------------------- */

static char *write_local(const char *name, const unsigned char *data, size_t len)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", work, name) > 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static unsigned char *read_local(const char *path, size_t *len)
{
    char *d = NULL;
    assert_int_equal(vmmk__read_file(&d, len, path), 0);
    return (unsigned char *)d;
}

/* Upload with libvmmk; check with govc that the datastore has it. */
static void upload_checked(vmmk_vsphere *vs, const peer *p, const unsigned char *data, size_t len)
{
    char *local = write_local("flat.up", data, len);
    ASSERT_OK(vmmk_vsphere_datastore_upload(vs, "DC0", local, FLAT_FILE));
    char check[128];
    snprintf(check, sizeof check, "%s/flat.govc", work);
    assert_int_equal(govc(p, NULL, 0,
                          (const char *const[]){ "datastore.download", "-ds", "LocalDS_0",
                                                 "DC0_H0_VM0/disk1-flat.vmdk", check, NULL }), 0);
    size_t n;
    unsigned char *back = read_local(check, &n);
    assert_int_equal(n, len);
    assert_memory_equal(back, data, len);
    free(back);
    unlink(check);
    unlink(local);
    free(local);
}

static void test_datastore_urls_and_cookie(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere *vs = connect_to(&P, false);
    char *vm = find_vm(vs, "DC0_H0_VM0"), *dc = NULL, *url = NULL, *want = NULL;
    ASSERT_OK(vmmk_vsphere_datacenter_path(&dc, vs, vm));
    assert_string_equal(dc, "DC0");
    ASSERT_OK(vmmk_vsphere_disk_flat_url(&url, vs, dc, DISK_FILE));
    assert_true(asprintf(&want, "%.*s/folder/DC0_H0_VM0/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0",
                         (int)(strlen(P.url) - 4), P.url) > 0);
    assert_string_equal(url, want);
    vmmk_string_free(url);
    free(want);
    ASSERT_OK(vmmk_vsphere_datastore_url(&url, vs, "F/DC 1", "[my ds] dir x/a+b%.vmdk"));
    assert_non_null(strstr(url, "/folder/dir%20x/a%2Bb%25.vmdk?dcPath=F%2FDC%201&dsName=my%20ds"));
    vmmk_string_free(url);
    ASSERT_OK(vmmk_vsphere_disk_flat_url(&url, vs, "DC0", "[ds]vm/x-flat.vmdk"));
    assert_non_null(strstr(url, "/folder/vm/x-flat.vmdk?"));
    vmmk_string_free(url);
    assert_int_equal(vmmk_vsphere_disk_flat_url(&url, vs, "DC0", "ds/vm/x.vmdk"), VMMK_EINVAL);
    assert_int_equal(vmmk_vsphere_disk_flat_url(&url, vs, "DC0", "[ds] vm/x.vmx"), VMMK_EINVAL);
    assert_int_equal(vmmk_vsphere_datastore_url(&url, vs, "DC0", "[ds] vm/"), VMMK_EINVAL);
    assert_int_equal(vmmk_vsphere_datastore_url(&url, vs, "", "[ds] vm/a"), VMMK_EINVAL);

    /* The cookie: a Cookie header value, and a secret. */
    char *cookie = NULL, *red = NULL;
    ASSERT_OK(vmmk_vsphere_session_cookie(&cookie, vs));
    assert_int_equal(strncmp(cookie, "vmware_soap_session=", 20), 0);
    assert_true(strlen(cookie) > 30);
    ASSERT_OK(vmmk_redact(&red, cookie));
    assert_null(strstr(red, cookie + 20));
    vmmk_string_free(red);
    vmmk_string_free(cookie);

    /* A pinned session cannot hand its trust to nbdkit's curl plugin. */
    vmmk_source *src = NULL;
    assert_int_equal(vmmk_vsphere_disk_source(&src, vs, dc, DISK_FILE), VMMK_EUNSUPPORTED);
    assert_non_null(strstr(vmmk_error_last()->message, "thumbprint"));
    vmmk_string_free(dc);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
}

/* A disk's flat file through the copier's http source (nbdkit curl with
 * the session cookie and the session's CA file), byte for byte; small
 * file download and its failure modes. */
static void test_datastore_copy(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere *vs = connect_to(&P, true);
    size_t len = 3 * MIB + 4096;
    unsigned char *data = calloc(1, len);
    for (size_t i = 0; i < MIB; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 24);
    memset(data + 2 * MIB, 0x5a, MIB + 4096);
    upload_checked(vs, &P, data, len);

    vmmk_source *src = NULL;
    ASSERT_OK(vmmk_vsphere_disk_source(&src, vs, "DC0", DISK_FILE));
    char **argv = NULL;
    ASSERT_OK(vmmk_source_argv(&argv, src));
    bool cookie_by_file = false, cainfo = false;
    char *cookie = NULL;
    ASSERT_OK(vmmk_vsphere_session_cookie(&cookie, vs));
    for (char **a = argv; *a; a++) {
        cookie_by_file |= strncmp(*a, "cookie=+", 8) == 0;
        cainfo |= strncmp(*a, "cainfo=", 7) == 0 && strstr(*a, "server.pem");
        assert_null(strstr(*a, cookie + 20));      /* never on the command line */
        assert_null(strstr(*a, "sslverify=false"));
    }
    assert_true(cookie_by_file && cainfo);
    vmmk_strv_free(argv);
    vmmk_string_free(cookie);

    char dest[128];
    snprintf(dest, sizeof dest, "%s/copied.raw", work);
    vmmk_copier *c = NULL;
    vmmk_copy_options co = VMMK_COPY_OPTIONS_INIT;
    co.checksum = true;
    ASSERT_OK(vmmk_copier_new(&c, src, dest, &co));
    assert_int_equal(vmmk_copier_size(c), len);
    vmmk_copy_stats stats;
    ASSERT_OK(vmmk_copier_run(c, &stats));
    vmmk_copier_free(c);
    vmmk_source_free(src);
    size_t n;
    unsigned char *copied = read_local(dest, &n);
    assert_int_equal(n, len);
    assert_memory_equal(copied, data, len);
    free(copied);
    unlink(dest);

    /* Download: whole file, and a failure that leaves the old file alone. */
    char down[128];
    snprintf(down, sizeof down, "%s/down.raw", work);
    ASSERT_OK(vmmk_vsphere_datastore_download(vs, "DC0", FLAT_FILE, down));
    unsigned char *got = read_local(down, &n);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    free(got);
    assert_int_equal(vmmk_vsphere_datastore_download(vs, "DC0", "[LocalDS_0] no/such.file", down),
                     VMMK_ENOTFOUND);
    assert_int_equal(vmmk_error_last()->http_status, 404);
    assert_non_null(strstr(vmmk_error_last()->message, "[LocalDS_0] no/such.file"));
    got = read_local(down, &n);
    assert_int_equal(n, len);
    free(got);
    unlink(down);
    char up[128];
    snprintf(up, sizeof up, "%s/missing", work);
    assert_int_equal(vmmk_vsphere_datastore_upload(vs, "DC0", up, FLAT_FILE), VMMK_ENOTFOUND);
    free(data);
    vmmk_vsphere_free(vs);
}

/* ---- CBT ------------------------------------------------------------------ */

typedef struct calls {
    uint64_t offsets[64];
    size_t n;
    uint64_t capacity;
} calls;

static void on_call(void *payload, uint64_t off, uint64_t cap)
{
    calls *c = payload;
    if (c->n < 64)
        c->offsets[c->n] = off;
    c->n++;
    c->capacity = cap;
    assert_true(off < cap);            /* never at or past the capacity */
}

static void expect_extents(const vmmk_extent_list *l, const vmmk_extent *want, size_t n)
{
    if (l->n != n)
        for (size_t i = 0; i < l->n; i++)
            print_error("  got [%llu, %llu]\n", (unsigned long long)l->items[i].offset,
                        (unsigned long long)l->items[i].length);
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l->items[i].offset, want[i].offset);
        assert_int_equal(l->items[i].length, want[i].length);
    }
}

static vmmk_extent_list *query(vmmk_vsphere *vs, const char *vm, const char *snap, const char *id,
                               calls *c)
{
    memset(c, 0, sizeof *c);
    vmmk__cbt_on_call = on_call;
    vmmk__cbt_on_call_payload = c;
    vmmk_extent_list *l = NULL;
    int rc = vmmk_vsphere_cbt_query(&l, vs, vm, snap, DISK_KEY, id);
    vmmk__cbt_on_call = NULL;
    if (rc)
        print_error("cbt query: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    return l;
}

/* Block @p i of @p buf (grown as needed) filled with @p byte. */
static void put_block(unsigned char **buf, size_t *len, size_t i, unsigned char byte)
{
    size_t end = (i + 1) * BS;
    if (end > *len) {
        *buf = realloc(*buf, end);
        memset(*buf + *len, 0, end - *len);
        *len = end;
    }
    memset(*buf + i * BS, byte, BS);
}

static char *change_id_of(vmmk_vsphere *vs, const char *snap)
{
    vmmk_vsphere_snapshot_disk_list *d = NULL;
    ASSERT_OK(vmmk_vsphere_snapshot_disks(&d, vs, snap));
    assert_int_equal(d->n, 1);
    assert_int_equal(d->items[0].key, DISK_KEY);
    assert_string_equal(d->items[0].file_name, DISK_FILE);
    assert_string_equal(d->items[0].backing_type, "VirtualDiskFlatVer2BackingInfo");
    char *id = d->items[0].change_id ? strdup(d->items[0].change_id) : NULL;
    vmmk_vsphere_snapshot_disk_list_free(d);
    return id;
}

static void grow_disk(const peer *p, const char *size)
{
    assert_int_equal(govc(p, NULL, 0,
                          (const char *const[]){ "vm.disk.change", "-vm", "DC0_H0_VM0", "-disk.key",
                                                 "255511522", "-size", size, NULL }), 0);
}

static void test_cbt(void **state)
{
    (void)state;
    NEED_PEER();
    grow_disk(&P, "64M");
    vmmk_vsphere *vs = connect_to(&P, false);
    char *vm = find_vm(vs, "DC0_H0_VM0"), *s0 = NULL, *sa = NULL, *sb = NULL;
    bool on = true, changed = false;
    ASSERT_OK(vmmk_vsphere_cbt_enabled(&on, vs, vm));
    assert_false(on);

    /* CBT off: the extension's FileFault, with disk, snapshot and offset named. */
    ASSERT_OK(vmmk_vsphere_snapshot_create(&s0, vs, vm, "cbt-off", NULL, false));
    assert_null(change_id_of(vs, s0));
    vmmk_extent_list *l = NULL;
    assert_int_equal(vmmk_vsphere_cbt_query(&l, vs, vm, s0, DISK_KEY, "*"), VMMK_EIO);
    const vmmk_error *e = vmmk_error_last();
    assert_string_equal(e->fault, "FileFault");
    assert_non_null(strstr(e->message, "disk 255511522"));
    assert_non_null(strstr(e->message, s0));
    assert_non_null(strstr(e->message, "offset 0"));
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, s0, false));

    ASSERT_OK(vmmk_vsphere_cbt_enable(&changed, vs, vm));
    assert_true(changed);
    ASSERT_OK(vmmk_vsphere_cbt_enabled(&on, vs, vm));
    assert_true(on);
    ASSERT_OK(vmmk_vsphere_cbt_enable(&changed, vs, vm));   /* idempotent */
    assert_false(changed);
    vmmk_vsphere_snapshots *sl = NULL;
    ASSERT_OK(vmmk_vsphere_snapshot_list(&sl, vs, vm));     /* the cycle left nothing */
    assert_int_equal(sl->n, 0);
    vmmk_vsphere_snapshots_free(sl);

    /* A: blocks 0 and 100-101.  B: block 5 written, one byte of 101
     * changed, block 700 written past A's end. */
    unsigned char *buf = NULL;
    size_t len = 0;
    put_block(&buf, &len, 0, 0xa1);
    put_block(&buf, &len, 100, 0xb2);
    put_block(&buf, &len, 101, 0xb3);
    upload_checked(vs, &P, buf, len);
    ASSERT_OK(vmmk_vsphere_snapshot_create(&sa, vs, vm, "A", NULL, false));
    char *ida = change_id_of(vs, sa);
    assert_non_null(ida);
    put_block(&buf, &len, 5, 0xc4);
    buf[101 * BS + 17] ^= 0xff;
    put_block(&buf, &len, 700, 0xd5);
    upload_checked(vs, &P, buf, len);
    ASSERT_OK(vmmk_vsphere_snapshot_create(&sb, vs, vm, "B", NULL, false));

    calls c;
    l = query(vs, vm, sb, "*", &c);
    expect_extents(l, (const vmmk_extent[]){ { 0, BS }, { 5 * BS, BS }, { 100 * BS, 2 * BS },
                                             { 700 * BS, BS } }, 4);
    assert_int_equal(c.n, 1);                   /* 64 MiB fits vcsim's 4 GiB window */
    assert_int_equal(c.capacity, 64 * MIB);
    /* The format vmmk copy --extents reads. */
    char *json = NULL;
    ASSERT_OK(vmmk_extent_list_to_json(&json, l));
    vmmk_extent_list *back = NULL;
    ASSERT_OK(vmmk_extent_list_from_json(&back, json, strlen(json), 64 * MIB));
    assert_int_equal(back->n, 4);
    assert_string_equal(json, "[\n  [0, 65536],\n  [327680, 65536],\n  [6553600, 131072],\n"
                              "  [45875200, 65536]\n]\n");
    vmmk_string_free(json);
    vmmk_extent_list_free(back);
    vmmk_extent_list_free(l);

    l = query(vs, vm, sb, ida, &c);
    expect_extents(l, (const vmmk_extent[]){ { 5 * BS, BS }, { 101 * BS, BS }, { 700 * BS, BS } }, 3);
    vmmk_extent_list_free(l);
    l = query(vs, vm, sa, "*", &c);
    expect_extents(l, (const vmmk_extent[]){ { 0, BS }, { 100 * BS, 2 * BS } }, 2);
    vmmk_extent_list_free(l);
    /* Change ids outlive their snapshot: the incremental-backup pattern. */
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, sa, false));
    l = query(vs, vm, sb, ida, &c);
    assert_int_equal(l->n, 3);
    vmmk_extent_list_free(l);

    assert_int_equal(vmmk_vsphere_cbt_query(&l, vs, vm, sb, 4242, "*"), VMMK_ENOTFOUND);
    assert_non_null(strstr(vmmk_error_last()->message, "255511522"));
    assert_int_equal(vmmk_vsphere_cbt_query(&l, vs, vm, sb, DISK_KEY, "bogus"), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->fault, "InvalidArgument");
    assert_int_equal(vmmk_vsphere_cbt_query(&l, vs, vm, sb, DISK_KEY, ""), VMMK_EINVAL);
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, sb, false));
    free(ida);
    free(buf);
    vmmk_string_free(sa);
    vmmk_string_free(sb);
    vmmk_string_free(s0);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
}

/* A server that covers 16 MiB per call: the loop makes exactly
 * capacity / 16 MiB calls (rounded up), at 0, 16M, ..., never at the
 * capacity, and areas that straddle a window boundary come out merged. */
static void test_cbt_window(void **state)
{
    (void)state;
    NEED_PEER();
    peer *w = &W;
    if (!peer_start(w, "16777216"))
        fail_msg("second vcsim instance did not start");
    grow_disk(w, "64M");
    vmmk_vsphere *vs = connect_to(w, false);
    char *vm = find_vm(vs, "DC0_H0_VM0"), *s = NULL;
    ASSERT_OK(vmmk_vsphere_cbt_enable(NULL, vs, vm));
    unsigned char *buf = NULL;
    size_t len = 0;
    put_block(&buf, &len, 0, 1);
    put_block(&buf, &len, 255, 2);    /* 255 | 256 straddle 16 MiB */
    put_block(&buf, &len, 256, 3);
    put_block(&buf, &len, 1000, 4);
    upload_checked(vs, w, buf, len);
    ASSERT_OK(vmmk_vsphere_snapshot_create(&s, vs, vm, "W", NULL, false));
    calls c;
    vmmk_extent_list *l = query(vs, vm, s, "*", &c);
    expect_extents(l, (const vmmk_extent[]){ { 0, BS }, { 255 * BS, 2 * BS }, { 1000 * BS, BS } }, 3);
    assert_int_equal(c.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(c.offsets[i], i * 16 * MIB);
    vmmk_extent_list_free(l);
    ASSERT_OK(vmmk_vsphere_snapshot_remove(vs, s, false));
    vmmk_string_free(s);

    /* 72 MiB: four full windows and a half one, the last call at 64 MiB. */
    grow_disk(w, "72M");
    ASSERT_OK(vmmk_vsphere_snapshot_create(&s, vs, vm, "W2", NULL, false));
    l = query(vs, vm, s, "*", &c);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.offsets[4], 64 * MIB);
    assert_int_equal(c.capacity, 72 * MIB);
    assert_int_equal(l->n, 3);
    vmmk_extent_list_free(l);
    vmmk_string_free(s);
    free(buf);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    peer_stop(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_disk_backings),
        cmocka_unit_test(test_power),
        cmocka_unit_test(test_datastore_urls_and_cookie),
        cmocka_unit_test(test_datastore_copy),
        cmocka_unit_test(test_cbt),
        cmocka_unit_test(test_cbt_window),
    };
    return cmocka_run_group_tests_name("vsphere_ops", tests, group_setup, group_teardown);
}
