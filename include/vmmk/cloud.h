/**
 * @file vmmk/cloud.h
 * @brief os_cloud: an OpenStack client (Keystone v3, Nova, Cinder v3,
 *        Neutron, Glance) over libcurl and json-c — the destination side
 *        of a migration.
 *
 * One vmmk_cloud handle holds the resolved configuration (clouds.yaml,
 * secure.yaml, OS_* variables: docs/cloud-config.md), a Keystone token
 * renewed before it expires and once on a 401, the service catalog, the
 * negotiated microversions and one HTTP connection pool per endpoint.
 * Calls on one handle are serialised internally; it may be shared between
 * threads.  Design notes, retry rules and microversions: docs/cloud.md.
 *
 * Every resource struct carries raw_json: the object exactly as the
 * service returned it, for callers that need a field vmmk does not model.
 * Lists of strings given to a call are (array, count) pairs; key/value
 * inputs are vmmk_properties (vmmk/image.h; vmmk_properties_new/set).
 */
#ifndef VMMK_CLOUD_H
#define VMMK_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmmk/common.h>
#include <vmmk/copier.h>
#include <vmmk/flavor.h>
#include <vmmk/image.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An authenticated OpenStack connection (opaque). */
typedef struct vmmk_cloud vmmk_cloud;

/** Options of vmmk_cloud_open(); initialise with VMMK_CLOUD_OPTIONS_INIT. */
typedef struct vmmk_cloud_options {
    unsigned version;          /**< VMMK_CLOUD_OPTIONS_VERSION */
    const char *cloud;         /**< clouds.yaml entry; NULL = $OS_CLOUD, else the OS_* variables */
    const char *region;        /**< overrides region_name, or NULL */
    const char *interface;     /**< "public", "internal" or "admin" overriding the config, or NULL */
    unsigned timeout;          /**< seconds per HTTP request; 0 = 120 */
    int retries;               /**< retries of an idempotent call on 5xx, 429 or a lost
                                    connection; -1 = default (5), 0 = none */
    const char *clouds_file;   /**< read this clouds.yaml instead of searching, or NULL */
    unsigned page_size;        /**< items per page of list calls (limit=); 0 = the service's default */
} vmmk_cloud_options;
#define VMMK_CLOUD_OPTIONS_VERSION 1
#define VMMK_CLOUD_OPTIONS_INIT { VMMK_CLOUD_OPTIONS_VERSION, NULL, NULL, NULL, 0, -1, NULL, 0 }

/** Resolve the configuration and authenticate (POST /v3/auth/tokens).
 *  Errors: those of the configuration (VMMK_ENOTFOUND, VMMK_EPARSE,
 *  VMMK_EINVAL naming file and key), VMMK_EAUTH (Keystone refused the
 *  credentials: the message carries Keystone's text and request id),
 *  VMMK_ENETWORK ("Keystone at http://...: authenticating cloud ...: Failed to
 *  connect to 127.0.0.1 port 5999 ...", after the retries),
 *  VMMK_ETLS, VMMK_ETIMEOUT, VMMK_EREMOTE (a malformed answer).
 *  @param[out] out  free with vmmk_cloud_free(). */
VMMK_EXTERN int vmmk_cloud_open(vmmk_cloud **out, const vmmk_cloud_options *opts);

/** Free the handle (the token is dropped, not revoked).  NULL is ignored. */
VMMK_EXTERN void vmmk_cloud_free(vmmk_cloud *c);

/** @name Auth and catalog
 * @{ */

/** One catalog endpoint. */
typedef struct vmmk_cloud_endpoint {
    char *service_type;        /**< "compute", "volumev3", "network", ... */
    char *service_name;        /**< "nova", ... or NULL */
    char *interface;           /**< "public", "internal", "admin" */
    char *region;              /**< region id, or NULL */
    char *url;
} vmmk_cloud_endpoint;

/** Who the handle is and what it can reach. */
typedef struct vmmk_cloud_auth_info {
    char *cloud;               /**< cloud name ("envvars" for OS_*) */
    char *auth_url;
    char *user_id, *user_name, *user_domain_id;
    char *project_id, *project_name, *project_domain_id;  /**< NULL when domain scoped */
    char *region;              /**< region used, or NULL (any) */
    char *interface;           /**< interface used */
    char *expires_at;          /**< token expiry, ISO 8601 as Keystone gave it */
    char **roles;
    size_t n_roles;
    vmmk_cloud_endpoint *endpoints;  /**< the catalog, every interface and region */
    size_t n_endpoints;
} vmmk_cloud_auth_info;

/** Describe the session (renewing the token first if it is near expiry).
 *  @param[out] out  free with vmmk_cloud_auth_info_free(). */
VMMK_EXTERN int vmmk_cloud_auth_info_get(vmmk_cloud_auth_info **out, vmmk_cloud *c);
VMMK_EXTERN void vmmk_cloud_auth_info_free(vmmk_cloud_auth_info *info);
/** {"cloud", "auth_url", "user": {id, name, domain_id}, "project": {...},
 *  "region", "interface", "expires_at", "roles": [...], "endpoints":
 *  [{service_type, service_name, interface, region, url}]}.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_cloud_auth_info_to_json(char **out, const vmmk_cloud_auth_info *info,
                                             unsigned flags);

/** The endpoint URL used for @p service_type ("compute", "block-storage"
 *  (aliases "volumev3", "volume"), "network", "image", "identity"): the
 *  endpoint override when configured, else the catalog entry for the
 *  region and interface.  VMMK_ENOTFOUND names the service, region and
 *  interface and lists what the catalog has.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_cloud_endpoint_url(char **out, vmmk_cloud *c, const char *service_type);

/** Drop the token and authenticate again now. */
VMMK_EXTERN int vmmk_cloud_reauthenticate(vmmk_cloud *c);

/** A raw call for what the typed API does not cover: @p method on
 *  @p path (relative to the service endpoint, query included) with an
 *  optional JSON @p body, the same auth, retries (idempotent methods
 *  only) and microversion header as the typed calls.  A non-2xx status is
 *  an error (VMMK_EHTTP / VMMK_ENOTFOUND / VMMK_ECONFLICT / VMMK_EAUTH
 *  carrying the service's message and request id).
 *  @param[out] out  the response body ("" when none); free with vmmk_string_free().
 *  @param[out] status  the HTTP status (may be NULL). */
VMMK_EXTERN int vmmk_cloud_request(char **out, long *status, vmmk_cloud *c,
                                   const char *service_type, const char *method,
                                   const char *path, const char *body);
/** @} */

/** @name Compute: flavors
 * @{ */

/** All flavors visible to the project, with details and extra specs
 *  (GET /flavors/detail, paginated; extra specs are inline from
 *  microversion 2.61).  The list feeds vmmk_flavor_match() directly.
 *  @param include_private  also list private flavors the project can use
 *         (is_public=None); admins see every flavor then.
 *  @param[out] out  free with vmmk_flavor_list_free(). */
VMMK_EXTERN int vmmk_cloud_flavor_list(vmmk_flavor_list **out, vmmk_cloud *c,
                                       bool include_private);

/** A flavor by id, else by unique name (an ambiguous name is
 *  VMMK_ECONFLICT listing the ids).
 *  @param[out] out  free with vmmk_flavor_free(). */
VMMK_EXTERN int vmmk_cloud_flavor_get(vmmk_flavor **out, vmmk_cloud *c, const char *id_or_name);

/** Create @p spec (name, vcpus, ram_mib, disk_gib, ephemeral_gib,
 *  swap_mib, is_public, extra specs; id when set, else Nova picks one),
 *  then set its extra specs and, for a private flavor, grant
 *  @p projects (ids) access.  When a step after the create fails the
 *  flavor is deleted again, so a half-made flavor never stays.
 *  VMMK_EEXISTS when the name or id is taken.
 *  @param[out] out  the created flavor; free with vmmk_flavor_free(). */
VMMK_EXTERN int vmmk_cloud_flavor_create(vmmk_flavor **out, vmmk_cloud *c,
                                         const vmmk_flavor *spec,
                                         const char *const *projects, size_t n_projects);

/** Delete a flavor by id. */
VMMK_EXTERN int vmmk_cloud_flavor_delete(vmmk_cloud *c, const char *id);
/** @} */

/** @name Compute: servers
 * @{ */

/** A Nova server. */
typedef struct vmmk_cloud_server {
    char *id;
    char *name;
    char *status;              /**< "BUILD", "ACTIVE", "SHUTOFF", "ERROR", ... */
    char *task_state;          /**< OS-EXT-STS:task_state, or NULL */
    char *fault;               /**< fault message when status is ERROR, or NULL */
    char *flavor_id;           /**< or the flavor's original_name (2.47+) */
    char *availability_zone;   /**< or NULL */
    char *host_id;             /**< hostId, or NULL */
    char **volume_ids;         /**< os-extended-volumes:volumes_attached */
    size_t n_volume_ids;
    vmmk_properties *metadata; /**< never NULL */
    char **tags;
    size_t n_tags;
    char *raw_json;
} vmmk_cloud_server;
VMMK_EXTERN void vmmk_cloud_server_free(vmmk_cloud_server *s);
VMMK_EXTERN int vmmk_cloud_server_to_json(char **out, const vmmk_cloud_server *s, unsigned flags);

/** What vmmk_cloud_server_create() makes; initialise with
 *  VMMK_CLOUD_SERVER_CREATE_INIT.  (A type named vmmk_cloud_server_create
 *  would clash with the function: C has one namespace for both.) */
typedef struct vmmk_cloud_server_spec {
    unsigned version;
    const char *name;
    const char *flavor;                    /**< flavor id (or unique name) */
    const char *const *volumes;            /**< volume ids: [0] boots, the rest in order */
    size_t n_volumes;
    const char *const *ports;              /**< port ids, NIC order */
    size_t n_ports;
    const char *const *networks;           /**< networks to get a new port on (after ports) */
    size_t n_networks;
    const char *const *security_groups;    /**< names or ids (applied to the ports Nova makes) */
    size_t n_security_groups;
    const char *key_name;
    const char *user_data;                 /**< raw text; base64-encoded by vmmk */
    const char *availability_zone;
    const char *const *tags;
    size_t n_tags;
    const vmmk_properties *metadata;
    bool delete_volumes_on_termination;    /**< default false: volumes outlive the server */
    bool config_drive;
} vmmk_cloud_server_spec;
#define VMMK_CLOUD_SERVER_CREATE_VERSION 1
#define VMMK_CLOUD_SERVER_CREATE_INIT                                                  \
    { VMMK_CLOUD_SERVER_CREATE_VERSION, NULL, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, \
      NULL, NULL, NULL, 0, NULL, false, false }

/** Create a server booting from volumes[0] with block_device_mapping_v2
 *  holding every volume in order (boot_index 0, 1, 2, ...).  Without
 *  ports or networks the server gets "networks": "none".  Returns once
 *  Nova accepted it (status BUILD); see vmmk_cloud_server_wait().
 *  VMMK_EINVAL names a missing field; a refusal carries Nova's message
 *  ("Quota exceeded for instances: ...") and request id.
 *  @param[out] out  free with vmmk_cloud_server_free(). */
VMMK_EXTERN int vmmk_cloud_server_create(vmmk_cloud_server **out, vmmk_cloud *c,
                                         const vmmk_cloud_server_spec *spec);

/** A server by id, else by unique name.  @param[out] out  free with vmmk_cloud_server_free(). */
VMMK_EXTERN int vmmk_cloud_server_get(vmmk_cloud_server **out, vmmk_cloud *c,
                                      const char *id_or_name);

/** Wait until the server's status is @p status ("ACTIVE", "SHUTOFF")
 *  with no task in progress, polling with backoff.  ERROR is VMMK_EREMOTE
 *  with the server's fault message; VMMK_ETIMEOUT after @p timeout_s
 *  (0 = 600).  @param[out] out  the final server (may be NULL). */
VMMK_EXTERN int vmmk_cloud_server_wait(vmmk_cloud_server **out, vmmk_cloud *c, const char *id,
                                       const char *status, unsigned timeout_s);

/** os-stop / os-start, waiting for SHUTOFF / ACTIVE when @p wait.  A
 *  server already in that state is success. */
VMMK_EXTERN int vmmk_cloud_server_stop(vmmk_cloud *c, const char *id, bool wait);
VMMK_EXTERN int vmmk_cloud_server_start(vmmk_cloud *c, const char *id, bool wait);

/** Delete a server; with @p wait, until GET answers 404.  An unknown id
 *  is success (already gone). */
VMMK_EXTERN int vmmk_cloud_server_delete(vmmk_cloud *c, const char *id, bool wait);

/** Attach @p volume_id to @p server_id (os-volume_attachments) and wait
 *  until the volume is in-use.  @param[out] device  the device Nova
 *  reports ("/dev/vdb"; only a hint: find the real one with
 *  vmmk_cloud_find_device()); may be NULL.  Free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_cloud_volume_attach(char **device, vmmk_cloud *c, const char *server_id,
                                         const char *volume_id, unsigned timeout_s);
/** Detach and wait until the volume is available again.  A volume not
 *  attached to that server is success. */
VMMK_EXTERN int vmmk_cloud_volume_detach(vmmk_cloud *c, const char *server_id,
                                         const char *volume_id, unsigned timeout_s);

/** The id of the server this process runs on (the conversion host):
 *  @p given when not NULL (checked to exist), else "uuid" from
 *  @p metadata_url (NULL = http://169.254.169.254/openstack/latest/meta_data.json).
 *  VMMK_ENOTFOUND when no metadata service answers within a few seconds,
 *  saying to pass the id.  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_cloud_local_server_id(char **out, vmmk_cloud *c, const char *given,
                                           const char *metadata_url);
/** @} */

/** @name Block storage v3
 * @{ */

/** A volume attachment as Cinder reports it. */
typedef struct vmmk_cloud_attachment {
    char *server_id;
    char *attachment_id;
    char *device;              /**< or NULL */
} vmmk_cloud_attachment;

/** A Cinder volume. */
typedef struct vmmk_cloud_volume {
    char *id;
    char *name;                /**< or NULL */
    char *status;              /**< "creating", "available", "in-use", "error", ... */
    uint64_t size_gib;
    char *volume_type;         /**< or NULL */
    char *availability_zone;   /**< or NULL */
    bool bootable;
    vmmk_properties *metadata;        /**< never NULL */
    vmmk_properties *image_metadata;  /**< volume_image_metadata; never NULL */
    vmmk_cloud_attachment *attachments;
    size_t n_attachments;
    char *raw_json;
} vmmk_cloud_volume;
VMMK_EXTERN void vmmk_cloud_volume_free(vmmk_cloud_volume *v);
VMMK_EXTERN int vmmk_cloud_volume_to_json(char **out, const vmmk_cloud_volume *v, unsigned flags);

/** A list of volumes. */
typedef struct vmmk_cloud_volume_list {
    vmmk_cloud_volume *items;
    size_t n;
} vmmk_cloud_volume_list;
VMMK_EXTERN void vmmk_cloud_volume_list_free(vmmk_cloud_volume_list *l);

/** What vmmk_cloud_volume_create() makes; initialise with
 *  VMMK_CLOUD_VOLUME_CREATE_INIT (named _spec: a type cannot share the
 *  function's name). */
typedef struct vmmk_cloud_volume_spec {
    unsigned version;
    const char *name;
    uint64_t size_gib;
    const char *volume_type;                /**< or NULL for the default */
    const char *availability_zone;
    const char *description;
    const vmmk_properties *metadata;        /**< plain metadata (e.g. CBT change ids) */
    const vmmk_properties *image_metadata;  /**< hw_* etc: set with os-set_image_metadata */
    bool bootable;                          /**< os-set_bootable once available */
    bool wait;                              /**< wait for "available" (needed for the two above) */
    unsigned timeout;                       /**< seconds for the wait; 0 = 600 */
} vmmk_cloud_volume_spec;
#define VMMK_CLOUD_VOLUME_CREATE_VERSION 1
#define VMMK_CLOUD_VOLUME_CREATE_INIT \
    { VMMK_CLOUD_VOLUME_CREATE_VERSION, NULL, 0, NULL, NULL, NULL, NULL, NULL, false, false, 0 }

/** Create a volume.  image_metadata or bootable imply waiting for
 *  "available".  When the volume ends in "error" it is VMMK_EREMOTE (the
 *  volume is left for inspection and named in the message).  A refused
 *  create carries Cinder's message ("VolumeSizeExceedsAvailableQuota: ...").
 *  @param[out] out  free with vmmk_cloud_volume_free(). */
VMMK_EXTERN int vmmk_cloud_volume_create(vmmk_cloud_volume **out, vmmk_cloud *c,
                                         const vmmk_cloud_volume_spec *spec);
/** A volume by id, else by unique name. */
VMMK_EXTERN int vmmk_cloud_volume_get(vmmk_cloud_volume **out, vmmk_cloud *c,
                                      const char *id_or_name);
/** Volumes of the project (paginated), filtered by exact @p name (or NULL)
 *  and by every key/value of @p metadata (or NULL).  (Named _list_get like
 *  vmmk_cloud_network_list_get: the list type holds the shorter name.)
 *  @param[out] out  free with vmmk_cloud_volume_list_free(). */
VMMK_EXTERN int vmmk_cloud_volume_list_get(vmmk_cloud_volume_list **out, vmmk_cloud *c,
                                           const char *name, const vmmk_properties *metadata);
/** Wait until the volume's status is @p status; "error*" statuses are
 *  VMMK_EREMOTE, VMMK_ETIMEOUT after @p timeout_s (0 = 600).
 *  @param[out] out  the final volume (may be NULL). */
VMMK_EXTERN int vmmk_cloud_volume_wait(vmmk_cloud_volume **out, vmmk_cloud *c, const char *id,
                                       const char *status, unsigned timeout_s);
/** Delete; with @p wait until it is gone.  An unknown id is success.  A
 *  volume Cinder cannot delete now (creating, in-use, with snapshots) is
 *  VMMK_ESTATE naming its status; one whose deletion failed on the
 *  backend (error_deleting) is VMMK_EREMOTE. */
VMMK_EXTERN int vmmk_cloud_volume_delete(vmmk_cloud *c, const char *id, bool wait);

/** Merge @p metadata into the volume's metadata (POST .../metadata). */
VMMK_EXTERN int vmmk_cloud_volume_metadata_set(vmmk_cloud *c, const char *id,
                                               const vmmk_properties *metadata);
/** The volume's metadata.  @param[out] out  free with vmmk_properties_free(). */
VMMK_EXTERN int vmmk_cloud_volume_metadata_get(vmmk_properties **out, vmmk_cloud *c,
                                               const char *id);
/** Delete one key; an absent key is success. */
VMMK_EXTERN int vmmk_cloud_volume_metadata_delete(vmmk_cloud *c, const char *id, const char *key);
/** os-set_bootable. */
VMMK_EXTERN int vmmk_cloud_volume_set_bootable(vmmk_cloud *c, const char *id, bool bootable);
/** os-set_image_metadata (Nova reads hw_* properties of a boot volume from here). */
VMMK_EXTERN int vmmk_cloud_volume_set_image_metadata(vmmk_cloud *c, const char *id,
                                                     const vmmk_properties *props);

/** A volume type. */
typedef struct vmmk_cloud_volume_type {
    char *id;
    char *name;
    bool is_public;
    char *description;         /**< or NULL */
} vmmk_cloud_volume_type;
typedef struct vmmk_cloud_volume_type_list {
    vmmk_cloud_volume_type *items;
    size_t n;
} vmmk_cloud_volume_type_list;
VMMK_EXTERN int vmmk_cloud_volume_type_list_get(vmmk_cloud_volume_type_list **out, vmmk_cloud *c);
VMMK_EXTERN void vmmk_cloud_volume_type_list_free(vmmk_cloud_volume_type_list *l);

/** A volume snapshot. */
typedef struct vmmk_cloud_snapshot {
    char *id;
    char *name;
    char *volume_id;
    char *status;
    uint64_t size_gib;
    char *raw_json;
} vmmk_cloud_snapshot;
VMMK_EXTERN void vmmk_cloud_snapshot_free(vmmk_cloud_snapshot *s);

/** Snapshot a volume (force for an in-use one) and, with @p wait, wait
 *  for "available".  @param[out] out  free with vmmk_cloud_snapshot_free(). */
VMMK_EXTERN int vmmk_cloud_snapshot_create(vmmk_cloud_snapshot **out, vmmk_cloud *c,
                                           const char *volume_id, const char *name, bool force,
                                           bool wait);
VMMK_EXTERN int vmmk_cloud_snapshot_get(vmmk_cloud_snapshot **out, vmmk_cloud *c, const char *id);
/** Delete; with @p wait until gone.  Unknown id is success. */
VMMK_EXTERN int vmmk_cloud_snapshot_delete(vmmk_cloud *c, const char *id, bool wait);
/** Revert a volume to its latest snapshot @p snapshot_id (volume 3.40+;
 *  VMMK_EUNSUPPORTED below it), waiting for "available". */
VMMK_EXTERN int vmmk_cloud_volume_revert(vmmk_cloud *c, const char *volume_id,
                                         const char *snapshot_id, unsigned timeout_s);

/** Bring a volume that already exists on a backend under Cinder
 *  (os-volume-manage; admin), waiting for "available".  @p host is
 *  "host@backend#pool", @p ref the backend's reference as JSON
 *  ({"source-name": "..."}).  A reference the backend cannot manage
 *  leaves a volume record in "error": VMMK_EREMOTE naming it.
 *  @param[out] out  free with vmmk_cloud_volume_free(). */
VMMK_EXTERN int vmmk_cloud_volume_manage(vmmk_cloud_volume **out, vmmk_cloud *c, const char *host,
                                         const char *ref_json, const char *name,
                                         const char *volume_type, bool bootable);
/** @} */

/** @name Network
 * @{ */

typedef struct vmmk_cloud_network {
    char *id;
    char *name;
    char *status;
    bool shared;
    bool external;             /**< router:external */
    int32_t mtu;               /**< 0 when unknown */
    char **subnet_ids;
    size_t n_subnet_ids;
    char *raw_json;
} vmmk_cloud_network;
typedef struct vmmk_cloud_network_list {
    vmmk_cloud_network *items;
    size_t n;
} vmmk_cloud_network_list;
VMMK_EXTERN void vmmk_cloud_network_free(vmmk_cloud_network *n);
VMMK_EXTERN void vmmk_cloud_network_list_free(vmmk_cloud_network_list *l);
VMMK_EXTERN int vmmk_cloud_network_list_to_json(char **out, const vmmk_cloud_network_list *l,
                                                unsigned flags);

/** Every network visible to the project (paginated). */
VMMK_EXTERN int vmmk_cloud_network_list_get(vmmk_cloud_network_list **out, vmmk_cloud *c);
/** A network by id, else by name: no match is VMMK_ENOTFOUND, several are
 *  VMMK_ECONFLICT listing their ids ("network name \"net\" is ambiguous:
 *  2 networks (ids ...); pass an id"). */
VMMK_EXTERN int vmmk_cloud_network_find(vmmk_cloud_network **out, vmmk_cloud *c,
                                        const char *id_or_name);

typedef struct vmmk_cloud_subnet {
    char *id;
    char *name;
    char *network_id;
    char *cidr;
    int32_t ip_version;
    char *gateway_ip;          /**< or NULL */
    bool enable_dhcp;
    char *raw_json;
} vmmk_cloud_subnet;
VMMK_EXTERN void vmmk_cloud_subnet_free(vmmk_cloud_subnet *s);
/** A subnet by id, else by name (within @p network_id when not NULL);
 *  same rules as vmmk_cloud_network_find(). */
VMMK_EXTERN int vmmk_cloud_subnet_find(vmmk_cloud_subnet **out, vmmk_cloud *c,
                                       const char *id_or_name, const char *network_id);

/** A security group by id, else by name within the project; same rules.
 *  @param[out] out  the group's id; free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_cloud_security_group_find(char **out, vmmk_cloud *c, const char *id_or_name);

typedef struct vmmk_cloud_fixed_ip {
    char *subnet_id;
    char *ip_address;
} vmmk_cloud_fixed_ip;

typedef struct vmmk_cloud_port {
    char *id;
    char *name;
    char *network_id;
    char *mac_address;
    char *status;
    char *device_id;           /**< the server using it, or NULL/"" */
    char *device_owner;
    vmmk_cloud_fixed_ip *fixed_ips;
    size_t n_fixed_ips;
    char **security_group_ids;
    size_t n_security_group_ids;
    char **tags;
    size_t n_tags;
    char *raw_json;
} vmmk_cloud_port;
VMMK_EXTERN void vmmk_cloud_port_free(vmmk_cloud_port *p);
VMMK_EXTERN int vmmk_cloud_port_to_json(char **out, const vmmk_cloud_port *p, unsigned flags);

/** A port to create; initialise with VMMK_CLOUD_PORT_CREATE_INIT (named
 *  _spec: a type cannot share the function's name). */
typedef struct vmmk_cloud_port_spec {
    unsigned version;
    const char *network;                   /**< id or unique name */
    const char *name;
    const char *mac_address;               /**< or NULL */
    const char *const *fixed_ips;          /**< addresses, or "subnet=S,ip-address=A" */
    size_t n_fixed_ips;
    const char *subnet;                    /**< default subnet (id or name) for fixed_ips */
    const char *const *security_groups;    /**< ids or names; NULL = the project default */
    size_t n_security_groups;
    const char *const *tags;
    size_t n_tags;
    const char *description;
    bool reuse;                            /**< reuse a port on the network with this MAC
                                                (or, without MAC, these tags) that no
                                                server uses, instead of failing */
} vmmk_cloud_port_spec;
#define VMMK_CLOUD_PORT_CREATE_VERSION 1
#define VMMK_CLOUD_PORT_CREATE_INIT \
    { VMMK_CLOUD_PORT_CREATE_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, NULL, 0, NULL, false }

/** Create a port (then set its tags).  With spec->reuse, a free port of
 *  the same network with this MAC is returned instead (its fixed IPs and
 *  tags checked; a differing one is VMMK_ECONFLICT naming the
 *  difference); a port with the MAC used by a server is VMMK_ECONFLICT
 *  naming the server.  Without reuse a MAC in use is VMMK_EEXISTS.
 *  @param[out] out  free with vmmk_cloud_port_free(). */
VMMK_EXTERN int vmmk_cloud_port_create(vmmk_cloud_port **out, vmmk_cloud *c,
                                       const vmmk_cloud_port_spec *spec);
/** A port by id, else by unique name. */
VMMK_EXTERN int vmmk_cloud_port_get(vmmk_cloud_port **out, vmmk_cloud *c, const char *id_or_name);
/** The ports with MAC @p mac (NULL = any) carrying every tag in @p tags,
 *  optionally on @p network_id.  VMMK_ENOTFOUND when none, VMMK_ECONFLICT
 *  when several. */
VMMK_EXTERN int vmmk_cloud_port_find(vmmk_cloud_port **out, vmmk_cloud *c, const char *mac,
                                     const char *const *tags, size_t n_tags,
                                     const char *network_id);
/** Delete; an unknown id is success. */
VMMK_EXTERN int vmmk_cloud_port_delete(vmmk_cloud *c, const char *id);
/** @} */

/** @name Image
 * @{ */

typedef struct vmmk_cloud_image {
    char *id;
    char *name;
    char *status;              /**< "queued", "saving", "active", ... */
    char *disk_format;
    char *container_format;
    uint64_t size;             /**< bytes, 0 until uploaded */
    char *checksum;            /**< or NULL */
    vmmk_properties *properties;  /**< the non-core attributes; never NULL */
    char *raw_json;
} vmmk_cloud_image;
VMMK_EXTERN void vmmk_cloud_image_free(vmmk_cloud_image *i);
VMMK_EXTERN int vmmk_cloud_image_to_json(char **out, const vmmk_cloud_image *i, unsigned flags);

/** An image to create; initialise with VMMK_CLOUD_IMAGE_CREATE_INIT (named
 *  _spec: a type cannot share the function's name). */
typedef struct vmmk_cloud_image_spec {
    unsigned version;
    const char *name;
    const char *disk_format;           /**< NULL = "raw" */
    const char *container_format;      /**< NULL = "bare" */
    const char *visibility;            /**< NULL = "private" */
    uint64_t min_disk_gib;
    uint64_t min_ram_mib;
    const vmmk_properties *properties; /**< hw_* etc. */
    const char *const *tags;
    size_t n_tags;
} vmmk_cloud_image_spec;
#define VMMK_CLOUD_IMAGE_CREATE_VERSION 1
#define VMMK_CLOUD_IMAGE_CREATE_INIT \
    { VMMK_CLOUD_IMAGE_CREATE_VERSION, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, 0 }

/** Create an image record (status queued).  @param[out] out  free with vmmk_cloud_image_free(). */
VMMK_EXTERN int vmmk_cloud_image_create(vmmk_cloud_image **out, vmmk_cloud *c,
                                        const vmmk_cloud_image_spec *spec);
VMMK_EXTERN int vmmk_cloud_image_get(vmmk_cloud_image **out, vmmk_cloud *c,
                                     const char *id_or_name);
/** Set (add or replace) properties with a JSON-patch PATCH. */
VMMK_EXTERN int vmmk_cloud_image_set_properties(vmmk_cloud *c, const char *id,
                                                const vmmk_properties *props);
/** Delete; unknown id is success. */
VMMK_EXTERN int vmmk_cloud_image_delete(vmmk_cloud *c, const char *id);

/** Fill @p buf with up to @p len bytes; return the count, 0 at the end,
 *  or a negative VMMK_E* code to abort. */
typedef ssize_t (*vmmk_cloud_reader)(void *payload, void *buf, size_t len);

/** Upload image data streamed from @p reader (PUT .../file): @p size
 *  bytes, or -1 for chunked transfer when unknown.  Nothing is buffered
 *  beyond libcurl's own buffer.  Then wait for "active" (@p timeout_s,
 *  0 = 3600) and check the size Glance stored.  An image that ends
 *  "killed" is VMMK_EREMOTE. */
VMMK_EXTERN int vmmk_cloud_image_upload(vmmk_cloud *c, const char *id, vmmk_cloud_reader reader,
                                        void *payload, int64_t size, unsigned timeout_s);
/** Upload a local file or block device. */
VMMK_EXTERN int vmmk_cloud_image_upload_file(vmmk_cloud *c, const char *id, const char *path,
                                             unsigned timeout_s);
/** Upload the whole of a copier source (an NBD URI, nbdkit plugin, VDDK,
 *  datastore http: see vmmk/copier.h), read in order through libnbd. */
VMMK_EXTERN int vmmk_cloud_image_upload_source(vmmk_cloud *c, const char *id, vmmk_source *src,
                                               unsigned timeout_s);
/** Wait for @p status ("active"); "killed"/"deleted" are VMMK_EREMOTE,
 *  VMMK_ETIMEOUT after @p timeout_s (0 = 600).
 *  @param[out] out  the final image (may be NULL); free with vmmk_cloud_image_free(). */
VMMK_EXTERN int vmmk_cloud_image_wait(vmmk_cloud_image **out, vmmk_cloud *c, const char *id,
                                      const char *status, unsigned timeout_s);
/** @} */

/** @name Device discovery on the conversion host
 * @{ */

/** The block device of an attached volume, found by its /dev/disk/by-id
 *  names: virtio-<first 20 characters of the id>,
 *  scsi-0QEMU_QEMU_HARDDISK_<id prefix>, scsi-SQEMU_QEMU_HARDDISK_<id
 *  prefix>, and wwn-0x<id without dashes> forms, polled until it appears
 *  (udev may lag the attach) for @p timeout_s (0 = 60).
 *  @param device_root  directory holding the by-id links; NULL =
 *         "/dev/disk/by-id" (tests point it elsewhere).
 *  @param[out] out  the resolved device path ("/dev/vdb"); free with
 *         vmmk_string_free().  VMMK_ETIMEOUT names the volume, the
 *         directory and the names looked for. */
VMMK_EXTERN int vmmk_cloud_find_device(char **out, const char *volume_id,
                                       const char *device_root, unsigned timeout_s);
/** @} */

#ifdef __cplusplus
}
#endif

#endif
