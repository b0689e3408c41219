/* libFuzzer target: the readers of OpenStack answers -- Keystone's token
 * document (user, project, expiry, catalog), error bodies of every service
 * style, and the server, volume, port and image objects.  The first byte
 * picks the reader, the rest is the document; what a reader accepts must
 * also serialise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

#include "cloud/cloud_int.h"
#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_resource(int kind, json_object *o)
{
    char *json = NULL;
    switch (kind) {
    case 0: {
        vmmk_cloud_server *s = NULL;
        if (vmmk__os_parse_server(&s, o) == 0 && vmmk_cloud_server_to_json(&json, s, 0) != 0)
            abort();
        vmmk_cloud_server_free(s);
        break;
    }
    case 1: {
        vmmk_cloud_volume *v = NULL;
        if (vmmk__os_parse_volume(&v, o) == 0 && vmmk_cloud_volume_to_json(&json, v, 0) != 0)
            abort();
        vmmk_cloud_volume_free(v);
        break;
    }
    case 2: {
        vmmk_cloud_port *p = NULL;
        if (vmmk__os_parse_port(&p, o) == 0 && vmmk_cloud_port_to_json(&json, p, 0) != 0)
            abort();
        vmmk_cloud_port_free(p);
        break;
    }
    default: {
        vmmk_cloud_image *i = NULL;
        if (vmmk__os_parse_image(&i, o) == 0 && vmmk_cloud_image_to_json(&json, i, 0) != 0)
            abort();
        vmmk_cloud_image_free(i);
        break;
    }
    }
    vmmk_string_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] % 8;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (kind == 0 || kind == 1) {
        /* A token document into a bare handle. */
        vmmk_cloud c;
        vmmk__cloud_config cfg;
        memset(&c, 0, sizeof c);
        memset(&cfg, 0, sizeof cfg);
        cfg.name = (char *)"fuzz";
        cfg.auth_url = (char *)"http://127.0.0.1:5000/v3";
        c.cfg = &cfg;
        if (kind == 1)
            c.region = (char *)"RegionOne";
        if (vmmk__os_parse_token(&c, text, len) == 0) {
            for (int s = 0; s < VMMK__SVC_COUNT; s++) {
                const char *ep = NULL;
                (void)vmmk__os_endpoint(&ep, &c, (vmmk__svc)s);
            }
        }
        json_object_put(c.token_body);
        free(c.user_id);
        free(c.project_id);
        free(c.expires_at);
        for (int s = 0; s < VMMK__SVC_COUNT; s++)
            free(c.endpoint[s]);
        return 0;
    }
    if (kind == 2 || kind == 3) {
        char *msg = NULL, *type = NULL;
        vmmk__os_error_text(text, len, &msg, &type);
        free(msg);
        free(type);
        return 0;
    }
    json_object *o = NULL;
    if (vmmk__json_parse(&o, text, len) == 0)
        one_resource(kind - 4, o);
    json_object_put(o);
    return 0;
}
