/* OpenStack cloud configuration: clouds.yaml, secure.yaml and OS_*
 * variables resolved into one Keystone v3 auth description (internal).
 *
 * This is the configuration half of Keystone auth; it does no network I/O.
 * The rules (search order, which variables apply when, validation) are in
 * docs/cloud-config.md.  The public API (include/vmmk/cloud.h) will wrap it.
 */
#ifndef VMMK_CLOUD_CONFIG_H
#define VMMK_CLOUD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    VMMK__CLOUD_AUTH_PASSWORD = 0,     /* "password" / "v3password" */
    VMMK__CLOUD_AUTH_APPCRED,          /* "v3applicationcredential" */
    VMMK__CLOUD_AUTH_TOKEN,            /* "token" / "v3token" */
} vmmk__cloud_auth_type;

typedef enum {
    VMMK__CLOUD_IF_PUBLIC = 0,
    VMMK__CLOUD_IF_INTERNAL,
    VMMK__CLOUD_IF_ADMIN,
} vmmk__cloud_interface;

/* Where the loader looks things up.  Passing NULL to
 * vmmk__cloud_config_load() means the process: getenv(3), $HOME, the
 * current directory and /etc/openstack.  Tests pass their own so that
 * nothing depends on the real environment or file system. */
typedef struct vmmk__cloud_env {
    /* Variable lookup; NULL = getenv(3).  An empty value counts as unset,
     * as in the openstack client. */
    const char *(*getenv)(const char *name, void *payload);
    void *payload;
    const char *home;        /* NULL = $HOME through getenv above */
    const char *cwd;         /* directory searched first; NULL = "." */
    const char *system_dir;  /* NULL = "/etc/openstack" */
} vmmk__cloud_env;

typedef struct vmmk__cloud_endpoint_override {
    char *service;           /* normalised: "compute", "block_storage", ... */
    char *url;
} vmmk__cloud_endpoint_override;

/* A resolved cloud.  Every string is owned by the struct (NULL = not set);
 * free the whole with vmmk__cloud_config_free(). */
typedef struct vmmk__cloud_config {
    char *name;                       /* the cloud's name, or "envvars" */
    vmmk__cloud_auth_type auth_type;
    char *auth_url;                   /* http(s), ends in a version ("/v3" added) */

    char *username, *user_id;
    char *password;                   /* registered with vmmk_secret_register */
    char *project_name, *project_id;
    /* Filled from domain_name/domain_id (or default_domain / "default" for
     * a user or project given by name) when not set themselves. */
    char *user_domain_name, *user_domain_id;
    char *project_domain_name, *project_domain_id;
    /* As written: a domain scope when no project is given. */
    char *domain_name, *domain_id;

    char *application_credential_id, *application_credential_name;
    char *application_credential_secret;  /* registered as a secret */
    char *token;                          /* registered as a secret */

    char *region_name;
    vmmk__cloud_interface interface;
    char *cacert;                     /* CA bundle path */
    bool verify;                      /* false: TLS certificates are not checked */
    char *cert, *key;                 /* client certificate and key paths */

    vmmk__cloud_endpoint_override *endpoint_overrides;
    size_t n_endpoint_overrides;

    char *clouds_file;                /* clouds.yaml used, or NULL (envvars) */
    char *secure_file;                /* secure.yaml merged in, or NULL */
} vmmk__cloud_config;

/* Resolve a cloud.
 *
 * @param[out] out     new config; free with vmmk__cloud_config_free().
 * @param cloud_name   the cloud to use; NULL = $OS_CLOUD, and with neither
 *                     the OS_* variables form the cloud "envvars".
 * @param env          lookup hooks; NULL = the process environment.
 * @return 0; VMMK_ENOTFOUND (no such cloud, a named file missing),
 *         VMMK_EPARSE (YAML syntax), VMMK_EINVAL (a missing or bad value),
 *         VMMK_EUNSUPPORTED (auth type, identity v2), VMMK_EIO, VMMK_ENOMEM.
 *         Messages name the file and the key path, or the variable. */
int vmmk__cloud_config_load(vmmk__cloud_config **out, const char *cloud_name,
                            const vmmk__cloud_env *env);

/* The same, from YAML text already read (no file search; the fuzzer's and
 * tests' entry).  @p clouds_path names the text in errors; @p secure_text
 * may be NULL. */
int vmmk__cloud_config_from_text(vmmk__cloud_config **out, const char *cloud_name,
                                 const char *clouds_text, size_t clouds_len,
                                 const char *clouds_path, const char *secure_text,
                                 size_t secure_len, const char *secure_path,
                                 const vmmk__cloud_env *env);

void vmmk__cloud_config_free(vmmk__cloud_config *cfg);

/* The endpoint override for a service ("compute", "block_storage" or its
 * aliases "volume"/"volumev3", "network", "image", "identity", ...), or NULL. */
const char *vmmk__cloud_config_endpoint_override(const vmmk__cloud_config *cfg,
                                                 const char *service);

/* "password", "v3applicationcredential", "token". */
const char *vmmk__cloud_auth_type_name(vmmk__cloud_auth_type t);
/* "public", "internal", "admin" (any case, or the v2 catalog's
 * "publicURL" spelling) into *out; false for anything else. */
bool vmmk__cloud_interface_parse(vmmk__cloud_interface *out, const char *text);
/* "public", "internal", "admin". */
const char *vmmk__cloud_interface_name(vmmk__cloud_interface i);

#endif
