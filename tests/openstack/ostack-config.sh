# ostack-config.sh: the config files of the OpenStack test peer. It is
# sourced by ostack.sh, which sets B, ETC, LIB, RUN, IP, NODE, PORT[] and
# the secrets (ADMIN_PW, SERVICE_PW, DB_PW, ...) and provides write().
# Every file goes under $ETC (mode 0600: some hold test passwords). The
# packages' own files in /etc are read (api-paste.ini) but never changed.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the variables come from ostack.sh

# keystoneauth options of a service user
ksa() {
    cat <<EOF
auth_url = http://$IP:5000/v3
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
region_name = RegionOne
username = $1
password = $SERVICE_PW
EOF
}
authtoken() { printf '[keystone_authtoken]\nwww_authenticate_uri = http://%s:5000/v3\n' "$IP"; ksa "$1"; }

uwsgi_ini() { # NAME PORT WSGI_FILE THREADS EXTRA
    write "$ETC/uwsgi/$1.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = $IP:$2
wsgi-file = $3
master = true
processes = 1
threads = $4
enable-threads = true
lazy-apps = true
need-app = true
buffer-size = 65535
die-on-term = true
no-orphans = true
# A worker whose interpreter waits for a non-daemon thread (seen with
# cinder-api) would hold a stop for 60 s; kill it after 5 s instead.
worker-reload-mercy = 5
reload-mercy = 5
# python-requests reuses keep-alive connections that uwsgi then resets
# (ECONNRESET); Debian's own ini files add the same header.
add-header = Connection: close
$5
EOF
}

write_configs() {
    local db="mysql+pymysql://os:$DB_PW@$IP" mq="rabbit://guest:guest@$IP:5672/"
    local sock=$RUN/mysqld.sock
    # A unix socket path is limited to 107 bytes.
    [ ${#sock} -lt 100 ] || sock=/tmp/vmmk-ostack-$(printf '%s' "$B" | md5sum | cut -c1-12).sock

    write "$MYCNF" <<EOF
[mysqld]
user = $(id -un)
datadir = $LIB/mariadb/data
tmpdir = $LIB/mariadb/tmp
socket = $sock
pid-file = $LIB/mariadb/mysqld.pid
bind-address = $IP
port = ${PORT[mariadb]}
skip-name-resolve
max_connections = 300
innodb_buffer_pool_size = 64M
# a test database: one fsync a second is plenty, and migrations run 2-3x faster
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
[client]
socket = $sock
EOF

    write "$ETC/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = $IP:${PORT[rabbitmq]}
loopback_users.guest = true
log.console = true
log.file = false
disk_free_limit.absolute = 50MB
EOF
    echo '[].' | write "$ETC/rabbitmq/enabled_plugins"
    : | write "$ETC/rabbitmq/rabbitmq-env.conf"

    write "$ETC/keystone/keystone.conf" <<EOF
[database]
connection = $db/keystone
[identity]
# bcrypt's minimum: a password check costs about 1 ms instead of about 250 ms.
# Test users only.
password_hash_rounds = 4
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $LIB/keystone/fernet-keys
[fernet_receipts]
key_repository = $LIB/keystone/fernet-keys
[credential]
key_repository = $LIB/keystone/credential-keys
[cache]
enabled = false
EOF
    uwsgi_ini keystone "${PORT[keystone]}" /usr/bin/keystone-wsgi-public 4 \
        "env = OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf"

    write "$ETC/placement/placement.conf" <<EOF
[placement_database]
connection = $db/placement
[api]
auth_strategy = keystone
$(authtoken placement)
EOF
    uwsgi_ini placement-api "${PORT[placement-api]}" /usr/bin/placement-api 2 \
        "env = OS_PLACEMENT_CONFIG_DIR=$ETC/placement"

    cp /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
    write "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
host = $NODE
my_ip = $IP
state_path = $LIB/nova
instances_path = $LIB/nova/instances
compute_driver = fake.FakeDriver
transport_url = $mq
enabled_apis = osapi_compute
osapi_compute_listen = $IP
metadata_listen = $IP
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
# The fake driver forgets its instances when nova-compute restarts; without
# this, nova would turn every server that outlived a restart SHUTOFF.
sync_power_state_interval = -1
[api]
auth_strategy = keystone
[api_database]
connection = $db/nova_api
[database]
connection = $db/nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[filter_scheduler]
enabled_filters = ComputeFilter,AvailabilityZoneFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter
[compute]
# tests make builds fail on purpose; never let nova disable the only host
consecutive_build_service_disable_threshold = 0
[oslo_concurrency]
lock_path = $LIB/nova/lock
$(authtoken nova)
[service_user]
# cinder >= 21.3 (OSSA-2023-003) refuses attachment deletes without a service token
send_service_user_token = true
$(ksa nova)
[placement]
$(ksa nova)
[neutron]
$(ksa neutron)
[cinder]
$(ksa cinder)
os_region_name = RegionOne
[glance]
# glance is found in the catalog
region_name = RegionOne
[oslo_messaging_notifications]
driver = noop
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[vnc]
enabled = false
EOF
    # One thread: nova-api monkey-patches eventlet, and each uwsgi thread gets
    # its own eventlet hub. An RPC reply that arrives for a call waiting in the
    # other thread is never read (MessagingTimeout after 60 s, for example
    # on a volume attach).
    uwsgi_ini nova-api "${PORT[nova-api]}" /usr/bin/nova-api-wsgi 1 \
        "env = OS_NOVA_CONFIG_DIR=$ETC/nova"

    cp /etc/neutron/api-paste.ini "$ETC/neutron/api-paste.ini"
    write "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $IP
bind_port = ${PORT[neutron-server]}
core_plugin = ml2
service_plugins =
allow_overlapping_ips = true
auth_strategy = keystone
transport_url = $mq
state_path = $LIB/neutron
api_paste_config = $ETC/neutron/api-paste.ini
# 0: the API is served by the parent process (no forked API worker, about
# 160 MB less). The RPC and periodic workers always get a process each.
api_workers = 0
rpc_workers = 1
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
[database]
connection = $db/neutron
$(authtoken neutron)
[nova]
$(ksa nova)
[oslo_concurrency]
lock_path = $LIB/neutron/lock
[oslo_messaging_notifications]
driver = noop
EOF
    write "$ETC/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
mechanism_drivers = vmmk_fakebind
extension_drivers = port_security
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:499
[ml2_type_flat]
flat_networks = *
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOF
    # The driver is found through an entry point, hence the hand-made dist-info.
    local plug=$LIB/neutron/plugins
    install -m 0644 "$HERE/vmmk_fakebind.py" "$plug/vmmk_fakebind.py"
    printf 'Metadata-Version: 2.1\nName: vmmk-fakebind\nVersion: 1.0\n' \
        | write "$plug/vmmk_fakebind-1.0.dist-info/METADATA"
    printf '[neutron.ml2.mechanism_drivers]\nvmmk_fakebind = vmmk_fakebind:FakeBindMechanismDriver\n' \
        | write "$plug/vmmk_fakebind-1.0.dist-info/entry_points.txt"

    cp /etc/cinder/api-paste.ini "$ETC/cinder/api-paste.ini"
    write "$ETC/cinder/cinder.conf" <<EOF
[DEFAULT]
host = $NODE
my_ip = $IP
osapi_volume_listen = $IP
auth_strategy = keystone
transport_url = $mq
state_path = $LIB/cinder
api_paste_config = $ETC/cinder/api-paste.ini
enabled_backends = fake
default_volume_type = __DEFAULT__
rootwrap_config = /etc/cinder/rootwrap.conf
[database]
connection = $db/cinder
$(authtoken cinder)
[nova]
$(ksa nova)
[oslo_concurrency]
lock_path = $LIB/cinder/lock
[oslo_messaging_notifications]
driver = noop
[fake]
# shipped in python3-cinder (cinder/tests/fake_driver.py): logs calls, stores nothing
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = fake
target_helper = fake
EOF
    uwsgi_ini cinder-api "${PORT[cinder-api]}" /usr/bin/cinder-wsgi 2 \
        "pyargv = --config-file $ETC/cinder/cinder.conf"

    cp /etc/glance/glance-api-paste.ini "$ETC/glance/glance-api-paste.ini"
    write "$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $IP
bind_port = ${PORT[glance-api]}
# 0: serve from the one process (no forked worker); saves about 100 MB
workers = 0
enabled_backends = file:file
[database]
connection = $db/glance
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $LIB/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $LIB/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $LIB/glance/tasks/
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = $ETC/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $LIB/glance/lock
EOF
}
