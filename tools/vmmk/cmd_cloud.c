/* vmmk cloud: the OpenStack side, openstack-client style.  This file holds
 * the group itself, `cloud auth` and the read-mostly `cloud network`;
 * flavors and servers are in cmd_cloud_compute.c, ports in
 * cmd_cloud_port.c, volumes and images in cmd_cloud_storage.c and
 * cmd_cloud_image.c.  Every command is a thin wrapper over include/vmmk/cloud.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_cloud.h"

/* ---- auth ------------------------------------------------------------ */

static void auth_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud auth [--json] [CONNECTION]\n\n"
            "Authenticate with Keystone and print who the session is (user, project and\n"
            "their domains, roles), the region and interface used, when the token expires\n"
            "and the service catalog.  Exit status 1 when the credentials are refused or\n"
            "Keystone cannot be reached.\n\n%s",
            cli_cloud_help);
}

static char *join2(const char *name, const char *id)
{
    char *s = NULL;
    if (name && id && strcmp(name, id) != 0) {
        if (asprintf(&s, "%s (%s)", name, id) < 0)
            s = NULL;
    } else if (name || id) {
        s = strdup(name ? name : id);
    }
    return s;
}

int cmd_cloud_auth(int argc, char **argv)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, true, auth_usage, NULL, 0, 0))
        return rc;
    vmmk_cloud_auth_info *i = NULL;
    if (vmmk_cloud_auth_info_get(&i, c)) {
        rc = cli_fail_last();
    } else if (a.json) {
        char *s = NULL;
        rc = cloud_print_json(vmmk_cloud_auth_info_to_json(&s, i, VMMK_JSON_PRETTY), &s);
    } else {
        cloud_fields f;
        cloud_fields_init(&f);
        cloud_field(&f, "cloud", i->cloud);
        cloud_field(&f, "auth_url", i->auth_url);
        char *user = join2(i->user_name, i->user_id);
        char *project = join2(i->project_name, i->project_id);
        cloud_field(&f, "user", user);
        cloud_field(&f, "user_id", i->user_id);
        cloud_field(&f, "user_domain_id", i->user_domain_id);
        cloud_field(&f, "project", project);
        cloud_field(&f, "project_id", i->project_id);
        cloud_field(&f, "project_domain_id", i->project_domain_id);
        free(user);
        free(project);
        cloud_field_strv(&f, "roles", i->roles, i->n_roles);
        cloud_field(&f, "region", i->region ? i->region : "(any)");
        cloud_field(&f, "interface", i->interface);
        cloud_field(&f, "expires_at", i->expires_at);
        cloud_fields_print(&f);

        static const char *const head[] = { "SERVICE", "NAME", "INTERFACE", "REGION", "URL" };
        cli_table t;
        cli_table_init(&t, 5, head);
        for (size_t k = 0; k < i->n_endpoints; k++) {
            const vmmk_cloud_endpoint *e = &i->endpoints[k];
            const char *row[] = { e->service_type, e->service_name, e->interface, e->region,
                                  e->url };
            cli_table_row(&t, row);
        }
        printf("\n");
        cli_table_print(&t);
        cli_table_free(&t);
    }
    vmmk_cloud_auth_info_free(i);
    vmmk_cloud_free(c);
    return rc;
}

/* ---- network --------------------------------------------------------- */

static void network_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud network list [--json] [CONNECTION]\n"
            "       vmmk cloud network show ID_OR_NAME [--json] [CONNECTION]\n\n"
            "list  every network the project can see: id, name, status, shared,\n"
            "      external, MTU and subnets\n"
            "show  one network by id, else by name; a name several networks share is an\n"
            "      error listing their ids (pass an id then)\n"
            "--json prints the networks as Neutron returned them.\n\n%s",
            cli_cloud_help);
}

static int network_list(int argc, char **argv)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, true, network_usage, NULL, 0, 0))
        return rc;
    vmmk_cloud_network_list *l = NULL;
    if (vmmk_cloud_network_list_get(&l, c)) {
        rc = cli_fail_last();
    } else if (a.json) {
        char *s = NULL;
        rc = cloud_print_json(vmmk_cloud_network_list_to_json(&s, l, VMMK_JSON_PRETTY), &s);
    } else {
        static const char *const head[] = { "ID", "NAME", "STATUS", "SHARED", "EXTERNAL", "MTU",
                                            "SUBNETS" };
        cli_table t;
        cli_table_init(&t, 7, head);
        for (size_t i = 0; i < l->n; i++) {
            const vmmk_cloud_network *n = &l->items[i];
            char mtu[16], *subnets = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&subnets, &len);
            for (size_t k = 0; m && k < n->n_subnet_ids; k++)
                fprintf(m, "%s%s", k ? "," : "", n->subnet_ids[k]);
            if (m)
                fclose(m);
            snprintf(mtu, sizeof mtu, "%" PRId32, n->mtu);
            const char *row[] = { n->id, n->name, n->status, n->shared ? "yes" : "no",
                                  n->external ? "yes" : "no", n->mtu ? mtu : "-",
                                  subnets && *subnets ? subnets : "-" };
            cli_table_row(&t, row);
            free(subnets);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    vmmk_cloud_network_list_free(l);
    vmmk_cloud_free(c);
    return rc;
}

static int network_show(int argc, char **argv)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, true, network_usage, "ID_OR_NAME", 1,
                    1))
        return rc;
    vmmk_cloud_network *n = NULL;
    if (vmmk_cloud_network_find(&n, c, a.pos[0])) {
        rc = cli_fail_last();
    } else if (a.json) {
        /* cloud.h has no single-network serialiser: the object exactly as
         * Neutron gave it is what the list's JSON holds too. */
        cli_print_json(n->raw_json ? n->raw_json : "{}");
    } else {
        cloud_fields f;
        cloud_fields_init(&f);
        cloud_field(&f, "id", n->id);
        cloud_field(&f, "name", n->name);
        cloud_field(&f, "status", n->status);
        cloud_field_bool(&f, "shared", n->shared);
        cloud_field_bool(&f, "router:external", n->external);
        if (n->mtu)
            cloud_field_u64(&f, "mtu", (uint64_t)n->mtu);
        else
            cloud_field(&f, "mtu", NULL);
        cloud_field_strv(&f, "subnets", n->subnet_ids, n->n_subnet_ids);
        cloud_fields_print(&f);
    }
    vmmk_cloud_network_free(n);
    vmmk_cloud_free(c);
    return rc;
}

int cmd_cloud_network(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "list", "networks the project can see", network_list },
        { "show", "one network by id or unique name", network_show },
    };
    return cli_dispatch("cloud network", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}

/* ---- the group ------------------------------------------------------- */

int cmd_cloud(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "auth", "check the credentials; user, project, token expiry, endpoints",
          cmd_cloud_auth },
        { "flavor", "list, show, create and delete Nova flavors", cmd_cloud_flavor },
        { "network", "list and show Neutron networks", cmd_cloud_network },
        { "port", "create, show and delete Neutron ports", cmd_cloud_port },
        { "volume", "Cinder volumes: create, list, set, attach, delete", cmd_cloud_volume },
        { "server", "Nova servers booting from volumes: create, stop, start, delete",
          cmd_cloud_server },
        { "image", "Glance images: create and upload, show, delete", cmd_cloud_image },
    };
    return cli_dispatch("cloud", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
