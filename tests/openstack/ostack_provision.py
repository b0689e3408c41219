#!/usr/bin/python3
"""Provisioning half of the OpenStack test peer (tests/openstack/ostack.sh).

    ostack_provision.py BASE identity         service project, users, roles, catalog
    ostack_provision.py BASE wait SECONDS     wait until every service is really up
    ostack_provision.py BASE fixtures         demo project/user/app credential, quotas,
                                              flavors, networks, security group,
                                              BASE/clouds.yaml and BASE/secure.yaml

Every step is idempotent. Each step is one process with one token. Starting
the `openstack` CLI costs 2-3 s per call, and this script would need about 40
such calls. The calls are plain REST through a keystoneauth1 session, against
the fixed loopback endpoints that ostack.sh configures.

Secrets are read from BASE/etc/secrets (mode 0600), never from argv.
Exit status: 0 ok; 2 when a service did not come up, after a line
"FAIL <service>: <reason>" on stdout (ostack.sh shows that service's log);
1 on any other error.
"""

import datetime
import hashlib
import os
import subprocess
import sys
import time

import yaml
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

IP = "127.0.0.1"
KEYSTONE = f"http://{IP}:5000/v3"
PLACEMENT = f"http://{IP}:8778"
NOVA = f"http://{IP}:8774/v2.1"
NEUTRON = f"http://{IP}:9696"
CINDER = f"http://{IP}:8776/v3"
GLANCE = f"http://{IP}:9292"
DOWN_AUTH_URL = f"http://{IP}:5999/v3"      # nothing listens there
REGION = "RegionOne"
HOST = "vmmk-ostack"                        # [DEFAULT] host of nova and cinder
SERVICE_USERS = ("placement", "nova", "neutron", "cinder", "glance")
APPCRED_NAME = "vmmk-appcred"

# (service name, type, URL); the identity service comes from keystone-manage bootstrap.
CATALOG = [
    ("placement", "placement", PLACEMENT),
    ("nova", "compute", NOVA),
    ("neutron", "network", NEUTRON),
    ("cinderv3", "volumev3", CINDER + "/%(project_id)s"),
    ("cinder", "block-storage", CINDER + "/%(project_id)s"),
    ("glance", "image", GLANCE),
]

# name -> (vcpus, ram MiB, disk GiB, extra specs)
FLAVORS = {
    "m1.tiny": (1, 512, 1, {}),
    "m1.small": (1, 2048, 10, {}),
    # ComputeCapabilitiesFilter: no host has this capability, so the
    # scheduler answers "No valid host was found".
    "m1.nohost": (1, 512, 1, {"capabilities:vmmk_nohost": "yes"}),
}

NOVA_QUOTAS = {"instances": 3}
CINDER_QUOTAS = {"volumes": 4, "gigabytes": 6}


class Error(Exception):
    pass


class NotUp(Exception):
    """A service is not (yet) up: service name for the log, and why."""

    def __init__(self, service, why):
        super().__init__(f"{service}: {why}")
        self.service = service
        self.why = why


class Cloud:
    """One keystoneauth1 session; call() does a REST call and returns its JSON."""

    def __init__(self, auth):
        self.sess = ksa_session.Session(auth=auth)

    def call(self, method, url, body=None, ok=(200, 201, 202, 204), headers=None):
        hdrs = {"Accept": "application/json"}
        hdrs.update(headers or {})
        r = self.sess.request(url, method, json=body, headers=hdrs, raise_exc=False)
        if r.status_code not in ok:
            raise Error(f"{method} {url}: HTTP {r.status_code}: {r.text[:400]}")
        if not r.content:
            return {}
        return r.json()

    def get(self, url, **kw):
        return self.call("GET", url, **kw)

    @property
    def project_id(self):
        return self.sess.get_project_id()


def password_auth(user, password, project):
    return v3.Password(auth_url=KEYSTONE, username=user, password=password,
                       project_name=project, user_domain_id="default",
                       project_domain_id="default")


class Sandbox:
    def __init__(self, base):
        self.base = base
        self.etc = os.path.join(base, "etc")
        self.run = os.path.join(base, "run")
        self.stamps = os.path.join(base, "lib", "mariadb", "stamps")
        self.secrets = self._read_secrets()
        self._admin = None

    def _read_secrets(self):
        out = {}
        with open(os.path.join(self.etc, "secrets"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    out[k] = v
        return out

    @property
    def admin(self):
        if self._admin is None:
            self._admin = Cloud(password_auth("admin", self.secrets["ADMIN_PW"], "admin"))
        return self._admin

    # -- stamps: remember what was already done for this database ---------

    def stamp_matches(self, name, value):
        try:
            with open(os.path.join(self.stamps, name), encoding="utf-8") as f:
                return f.read().strip() == value
        except OSError:
            return False

    def stamp_write(self, name, value):
        os.makedirs(self.stamps, exist_ok=True)
        with open(os.path.join(self.stamps, name), "w", encoding="utf-8") as f:
            f.write(value + "\n")

    # -- identity helpers ----------------------------------------------------

    def find_one(self, coll, key, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        items = self.admin.get(f"{KEYSTONE}/{coll}?{q}")[key]
        return items[0] if items else None

    def ensure_project(self, name):
        p = self.find_one("projects", "projects", name=name, domain_id="default")
        if p:
            return p["id"]
        return self.admin.call("POST", f"{KEYSTONE}/projects", {
            "project": {"name": name, "domain_id": "default",
                        "description": "vmmk test peer"}})["project"]["id"]

    def ensure_role(self, name):
        r = self.find_one("roles", "roles", name=name)
        if r:
            return r["id"]
        return self.admin.call("POST", f"{KEYSTONE}/roles",
                               {"role": {"name": name}})["role"]["id"]

    def ensure_user(self, name, password, project_id=None, reset=False):
        """Returns the user id. The password is set on creation, or when reset."""
        u = self.find_one("users", "users", name=name, domain_id="default")
        if u is None:
            body = {"name": name, "domain_id": "default", "password": password}
            if project_id:
                body["default_project_id"] = project_id
            return self.admin.call("POST", f"{KEYSTONE}/users", {"user": body})["user"]["id"]
        if reset:
            # Not done on every start: a password change revokes the
            # user's tokens, and running services hold them.
            self.admin.call("PATCH", f"{KEYSTONE}/users/{u['id']}",
                            {"user": {"password": password}})
        return u["id"]

    def grant(self, project_id, user_id, role_id):
        self.admin.call("PUT", f"{KEYSTONE}/projects/{project_id}/users/{user_id}/roles/{role_id}")

    # -- steps -----------------------------------------------------------------

    def identity(self):
        service_project = self.ensure_project("service")
        admin_role = self.ensure_role("admin")
        service_role = self.ensure_role("service")
        pw_stamp = hashlib.sha256(self.secrets["SERVICE_PW"].encode()).hexdigest()
        reset = not self.stamp_matches("service-users", pw_stamp)
        for name in SERVICE_USERS:
            uid = self.ensure_user(name, self.secrets["SERVICE_PW"], reset=reset)
            # "service" is what cinder >= 21.3 (OSSA-2023-003) checks in the
            # service token that nova sends along (send_service_user_token).
            for rid in (admin_role, service_role):
                self.grant(service_project, uid, rid)
        self.stamp_write("service-users", pw_stamp)

        services = {s["type"]: s for s in self.admin.get(f"{KEYSTONE}/services")["services"]}
        endpoints = self.admin.get(f"{KEYSTONE}/endpoints")["endpoints"]
        for name, stype, url in CATALOG:
            svc = services.get(stype) or self.admin.call("POST", f"{KEYSTONE}/services", {
                "service": {"name": name, "type": stype, "enabled": True}})["service"]
            have = {e["interface"]: e for e in endpoints if e["service_id"] == svc["id"]}
            for iface in ("public", "internal", "admin"):
                e = have.get(iface)
                if e is None:
                    self.admin.call("POST", f"{KEYSTONE}/endpoints", {"endpoint": {
                        "service_id": svc["id"], "interface": iface, "url": url,
                        "region_id": REGION, "enabled": True}})
                elif e["url"] != url or e.get("region_id") != REGION:
                    self.admin.call("PATCH", f"{KEYSTONE}/endpoints/{e['id']}", {"endpoint": {
                        "url": url, "region_id": REGION}})
        print("identity: service users and catalog ok")

    # -- wait --------------------------------------------------------------------

    def launch_epoch(self, service):
        """When ostack.sh last launched the service (4th field of its pid file)."""
        try:
            with open(os.path.join(self.run, service + ".pid"), encoding="utf-8") as f:
                fields = f.read().split()
            return float(fields[3])
        except (OSError, IndexError, ValueError):
            return 0.0

    def process_alive(self, service):
        try:
            with open(os.path.join(self.run, service + ".pid"), encoding="utf-8") as f:
                pid, start = f.read().split()[:2]
            with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                stat = f.read()
        except (OSError, ValueError):
            return False
        return stat.rsplit(")", 1)[1].split()[19] == start

    def check_services(self, url, service_of_binary, host_of_binary):
        """Each binary is up, and reported after its latest launch (not a
        heartbeat left in the database by the previous run)."""
        have = {}
        for s in self.admin.get(url)["services"]:
            have[(s["binary"], s["host"])] = s
        for binary, service in service_of_binary.items():
            s = have.get((binary, host_of_binary[binary]))
            if s is None:
                raise NotUp(service, f"{binary} has not registered yet")
            if s["state"] != "up" or s["status"] != "enabled":
                raise NotUp(service, f"{binary} is {s['state']}/{s['status']}")
            upd = datetime.datetime.fromisoformat(s["updated_at"].rstrip("Z"))
            upd = upd.replace(tzinfo=datetime.timezone.utc).timestamp()
            if upd < self.launch_epoch(service) - 1:
                raise NotUp(service, f"{binary} has not reported since it was started")

    def host_mapped(self):
        import pymysql
        conn = pymysql.connect(host=IP, user="os", password=self.secrets["DB_PW"],
                               database="nova_api", connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM host_mappings WHERE host=%s", (HOST,))
                return cur.fetchone()[0] > 0
        finally:
            conn.close()

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        nova_conf = os.path.join(self.etc, "nova", "nova.conf")
        state = {"unmapped_since": None, "discovered": False}

        def keystone():
            try:
                self.admin.sess.get_token()
            except ksa_exc.ClientException:
                self._admin = None      # retry the token with a fresh session
                raise

        def api_get(url):
            return lambda: self.admin.get(url() if callable(url) else url)

        def nova_services():
            self.check_services(f"{NOVA}/os-services",
                                {b: b for b in ("nova-conductor", "nova-scheduler", "nova-compute")},
                                {b: HOST for b in ("nova-conductor", "nova-scheduler", "nova-compute")})

        def compute_in_placement():
            rps = self.admin.get(f"{PLACEMENT}/resource_providers?name={HOST}")["resource_providers"]
            if not rps:
                raise NotUp("nova-compute", "no resource provider in placement yet")
            inv = self.admin.get(f"{PLACEMENT}/resource_providers/{rps[0]['uuid']}/inventories")
            if "VCPU" not in inv["inventories"]:
                raise NotUp("nova-compute", "no VCPU inventory in placement yet")

        def compute_mapped():
            # nova-scheduler maps new hosts every discover_hosts_in_cells_interval;
            # after 15 s without that, do it once by hand.
            if self.host_mapped():
                return
            now = time.monotonic()
            state["unmapped_since"] = state["unmapped_since"] or now
            if now - state["unmapped_since"] > 15 and not state["discovered"]:
                state["discovered"] = True
                subprocess.run(["nova-manage", "--config-file", nova_conf,
                                "cell_v2", "discover_hosts"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=False)
            raise NotUp("nova-scheduler", f"host {HOST} not mapped to a cell yet")

        def cinder_services():
            self.check_services(f"{CINDER}/{self.admin.project_id}/os-services",
                                {"cinder-scheduler": "cinder-scheduler",
                                 "cinder-volume": "cinder-volume"},
                                {"cinder-scheduler": HOST, "cinder-volume": HOST + "@fake"})

        def cinder_pool():
            pools = self.admin.get(f"{CINDER}/{self.admin.project_id}/scheduler-stats/get_pools")
            if not any(p["name"].startswith(HOST + "@fake") for p in pools["pools"]):
                raise NotUp("cinder-scheduler", "no volume pool known to the scheduler yet")

        # (service whose log explains a failure, check); a check raises
        # NotUp naming another service where it knows better.
        checks = [
            ("keystone", keystone),
            ("placement-api", api_get(f"{PLACEMENT}/resource_providers")),
            ("glance-api", api_get(f"{GLANCE}/v2/images?limit=1")),
            ("neutron-server", api_get(f"{NEUTRON}/v2.0/networks?limit=1")),
            ("nova-api", api_get(f"{NOVA}/flavors")),
            ("cinder-api", api_get(lambda: f"{CINDER}/{self.admin.project_id}/types")),
            ("nova-api", nova_services),
            ("nova-compute", compute_in_placement),
            ("nova-scheduler", compute_mapped),
            ("cinder-api", cinder_services),
            ("cinder-scheduler", cinder_pool),
        ]
        processes = ("keystone", "placement-api", "glance-api", "neutron-server", "nova-api",
                     "nova-conductor", "nova-scheduler", "nova-compute",
                     "cinder-api", "cinder-scheduler", "cinder-volume")
        for service, check in checks:
            while True:
                dead = [p for p in processes if not self.process_alive(p)]
                if dead:
                    raise NotUp(dead[0], "the process has exited")
                try:
                    check()
                    break
                except NotUp as e:
                    last = e
                except Exception as e:  # noqa: BLE001 - any failure means "not yet"
                    last = NotUp(service, f"{type(e).__name__}: {e}")
                if time.monotonic() > deadline:
                    raise NotUp(last.service, f"not up after {timeout:.0f} s: {last.why}")
                time.sleep(1)
        print("wait: every service is up")

    # -- fixtures ----------------------------------------------------------------

    def demo_session(self, user_id):
        """A demo-scoped session; resets demo's password once if it fails."""
        for attempt in (1, 2):
            demo = Cloud(password_auth("demo", self.secrets["DEMO_PW"], "demo"))
            try:
                demo.sess.get_token()
                return demo
            except ksa_exc.Unauthorized:
                if attempt == 2:
                    raise
                self.admin.call("PATCH", f"{KEYSTONE}/users/{user_id}",
                                {"user": {"password": self.secrets["DEMO_PW"]}})
        raise AssertionError("unreachable")

    def appcred_works(self, cred_id):
        body = {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {
                                          "id": cred_id,
                                          "secret": self.secrets["APPCRED_SECRET"]}}}}
        r = self.admin.sess.post(f"{KEYSTONE}/auth/tokens", json=body,
                                 authenticated=False, raise_exc=False)
        return r.status_code == 201

    def ensure_appcred(self, demo, user_id):
        url = f"{KEYSTONE}/users/{user_id}/application_credentials"
        found = demo.get(f"{url}?name={APPCRED_NAME}")["application_credentials"]
        if found and self.appcred_works(found[0]["id"]):
            return found[0]["id"]
        for c in found:
            demo.call("DELETE", f"{url}/{c['id']}")
        return demo.call("POST", url, {"application_credential": {
            "name": APPCRED_NAME, "secret": self.secrets["APPCRED_SECRET"],
            "description": "vmmk test peer: clouds vmmk-appcred and vmmk-appcred-name"}}
        )["application_credential"]["id"]

    def ensure_flavors(self):
        hdr = {"OpenStack-API-Version": "compute 2.79"}
        have = {f["name"]: f for f in
                self.admin.get(f"{NOVA}/flavors/detail?is_public=None", headers=hdr)["flavors"]}
        for name, (vcpus, ram, disk, specs) in FLAVORS.items():
            f = have.get(name)
            if f and (f["vcpus"], f["ram"], f["disk"], f["os-flavor-access:is_public"]) \
                    != (vcpus, ram, disk, True):
                self.admin.call("DELETE", f"{NOVA}/flavors/{f['id']}", headers=hdr)
                f = None
            if f is None:
                f = self.admin.call("POST", f"{NOVA}/flavors", {"flavor": {
                    "name": name, "vcpus": vcpus, "ram": ram, "disk": disk,
                    "os-flavor-access:is_public": True}}, headers=hdr)["flavor"]
            if specs and f.get("extra_specs") != specs:
                self.admin.call("POST", f"{NOVA}/flavors/{f['id']}/os-extra_specs",
                                {"extra_specs": specs}, headers=hdr)

    def ensure_subnet(self, net, name, cidr):
        subs = self.admin.get(f"{NEUTRON}/v2.0/subnets?network_id={net['id']}")["subnets"]
        if subs:
            return
        self.admin.call("POST", f"{NEUTRON}/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "name": name, "cidr": cidr, "ip_version": 4}})

    def ensure_networks(self, name, count, subnets):
        """count shared networks called name, the i-th with subnet subnets[i]."""
        nets = self.admin.get(f"{NEUTRON}/v2.0/networks?name={name}")["networks"]
        while len(nets) < count:
            nets.append(self.admin.call("POST", f"{NEUTRON}/v2.0/networks", {"network": {
                "name": name, "shared": True}})["network"])
        nets.sort(key=lambda n: (n.get("created_at", ""), n["id"]))
        for net, (sub_name, cidr) in zip(nets, subnets):
            if not net.get("shared"):
                self.admin.call("PUT", f"{NEUTRON}/v2.0/networks/{net['id']}",
                                {"network": {"shared": True}})
            self.ensure_subnet(net, sub_name, cidr)

    def ensure_secgroup(self, project_id, name):
        url = f"{NEUTRON}/v2.0/security-groups"
        if self.admin.get(f"{url}?name={name}&project_id={project_id}")["security_groups"]:
            return
        self.admin.call("POST", url, {"security_group": {
            "name": name, "project_id": project_id,
            "description": "vmmk test peer"}})

    def fixtures(self):
        demo_project = self.ensure_project("demo")
        member = self.ensure_role("member")
        demo_user = self.ensure_user("demo", self.secrets["DEMO_PW"], project_id=demo_project)
        self.grant(demo_project, demo_user, member)
        demo = self.demo_session(demo_user)
        cred_id = self.ensure_appcred(demo, demo_user)

        self.admin.call("PUT", f"{NOVA}/os-quota-sets/{demo_project}",
                        {"quota_set": NOVA_QUOTAS})
        self.admin.call("PUT", f"{CINDER}/{self.admin.project_id}/os-quota-sets/{demo_project}",
                        {"quota_set": CINDER_QUOTAS})
        self.ensure_flavors()
        self.ensure_networks("net1", 1, [("sub1", "10.0.0.0/24")])
        self.ensure_networks("dupnet", 2, [("dupsub1", "10.0.1.0/24"),
                                           ("dupsub2", "10.0.2.0/24")])
        self.ensure_secgroup(demo_project, "vmmk-sg")
        self.write_clouds(cred_id)
        print(f"fixtures: project demo {demo_project}, app credential {cred_id}")

    def write_clouds(self, cred_id):
        s = self.secrets

        def password_cloud(user, project, password=None, auth_url=KEYSTONE):
            auth = {"auth_url": auth_url, "username": user}
            if password is not None:
                auth["password"] = password
            auth.update({"project_name": project, "user_domain_name": "Default",
                         "project_domain_name": "Default"})
            return {"auth_type": "password", "auth": auth, "region_name": REGION,
                    "interface": "public", "identity_api_version": 3}

        def appcred_cloud(auth):
            return {"auth_type": "v3applicationcredential",
                    "auth": dict({"auth_url": KEYSTONE}, **auth),
                    "region_name": REGION, "interface": "public",
                    "identity_api_version": 3}

        clouds = {"clouds": {
            # The admin password stays in clouds.yaml: one cloud without merging.
            "vmmk-admin": password_cloud("admin", "admin", s["ADMIN_PW"]),
            "vmmk-demo": password_cloud("demo", "demo"),
            "vmmk-appcred": appcred_cloud({"application_credential_id": cred_id}),
            "vmmk-appcred-name": appcred_cloud({"application_credential_name": APPCRED_NAME,
                                                "username": "demo",
                                                "user_domain_name": "Default"}),
            "vmmk-badpw": password_cloud("demo", "demo"),
            "vmmk-down": password_cloud("admin", "admin", "nothing-listens-here",
                                        auth_url=DOWN_AUTH_URL),
        }}
        secure = {"clouds": {
            "vmmk-demo": {"auth": {"password": s["DEMO_PW"]}},
            "vmmk-appcred": {"auth": {"application_credential_secret": s["APPCRED_SECRET"]}},
            "vmmk-appcred-name": {"auth": {"application_credential_secret": s["APPCRED_SECRET"]}},
            "vmmk-badpw": {"auth": {"password": "wrong-" + s["DEMO_PW"]}},
        }}
        head = ("# Written by tests/openstack/ostack.sh start: the OpenStack test peer on\n"
                "# 127.0.0.1. Secrets of the demo clouds are in secure.yaml next to it.\n")
        self._write_0600(os.path.join(self.base, "clouds.yaml"),
                         head + yaml.safe_dump(clouds, sort_keys=False))
        self._write_0600(os.path.join(self.base, "secure.yaml"),
                         "# Written by tests/openstack/ostack.sh start; merged over clouds.yaml.\n"
                         + yaml.safe_dump(secure, sort_keys=False))

    @staticmethod
    def _write_0600(path, text):
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


def main(argv):
    if len(argv) < 3 or argv[2] not in ("identity", "wait", "fixtures"):
        print(__doc__, file=sys.stderr)
        return 1
    sb = Sandbox(argv[1])
    try:
        if argv[2] == "identity":
            sb.identity()
        elif argv[2] == "wait":
            sb.wait(float(argv[3]) if len(argv) > 3 else 300)
        else:
            sb.fixtures()
    except NotUp as e:
        print(f"FAIL {e.service}: {e.why}")
        return 2
    except (Error, ksa_exc.ClientException) as e:
        print(f"ostack_provision.py {argv[2]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
