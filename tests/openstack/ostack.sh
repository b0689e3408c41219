#!/usr/bin/env bash
# ostack.sh: the OpenStack test peer for libvmmk. It runs a real OpenStack Zed
# control plane from Debian 12 packages, on 127.0.0.1 only, with no systemd.
#
#   ostack.sh start    install missing packages (apt), start everything, wait
#                      until every service is really up, provision the test
#                      fixtures, write $BASE/clouds.yaml, $BASE/secure.yaml and
#                      $BASE/env. Idempotent: re-running while up changes nothing.
#   ostack.sh stop     stop every process it started, MariaDB and RabbitMQ too
#   ostack.sh status   per service: pid, port, RSS. Exit 0 when all run,
#                      1 when some run, 3 when none runs.
#   ostack.sh env      print $BASE/env (export VMMK_OS_CLOUDS=... lines)
#
# What runs (one session per service; pid files in $BASE/run, logs in $BASE/log):
#   MariaDB :3306 and RabbitMQ :5672 (epmd :4369, dist :25672), private
#     instances with their data under $BASE
#   keystone :5000, placement :8778, nova-api :8774, cinder-api :8776 (uwsgi)
#   glance-api :9292 (file store), neutron-server :9696 (ML2 plus the
#     agent-less vmmk_fakebind mechanism driver)
#   nova-conductor, nova-scheduler, nova-compute (fake.FakeDriver)
#   cinder-scheduler, cinder-volume (FakeLoggingVolumeDriver)
#
# Environment:
#   VMMK_OSTACK_BASE   state dir, default $HOME/.cache/vmmk/ostack. It is kept
#                      between runs: a restart skips the database migrations.
#
# Test passwords are random per state dir ($BASE/etc/secrets, mode 0600). They
# sit in config files (mode 0600) and never on a command line.
# Next to this file: ostack-config.sh writes the config files,
# ostack_provision.py does the REST provisioning.
# See docs/openstack-sandbox.md.
set -euo pipefail
umask 077

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename -- "${BASH_SOURCE[0]}")"
B=${VMMK_OSTACK_BASE:-${HOME:?HOME is not set}/.cache/vmmk/ostack}
ETC=$B/etc LIB=$B/lib LOG=$B/log RUN=$B/run
STAMPS=$LIB/mariadb/stamps          # lives and dies with the database
MYCNF=$ETC/mariadb/my.cnf
PY=/usr/bin/python3                 # Debian's; PATH may hold a pyenv python
IP=127.0.0.1
NODE=vmmk-ostack                    # [DEFAULT] host of nova and cinder
# Bump to force every database migration to run again on the next start.
SCHEMA_REV=1
BOOT_ID=$(cat /proc/sys/kernel/random/boot_id)
T0=${EPOCHREALTIME/./}

# Start order. stop goes in reverse: OpenStack first, then RabbitMQ, MariaDB, epmd.
SERVICES=(mariadb epmd rabbitmq keystone placement-api glance-api neutron-server
          cinder-api cinder-scheduler cinder-volume
          nova-api nova-conductor nova-scheduler nova-compute)
OPENSTACK=("${SERVICES[@]:3}")
declare -A PORT=([mariadb]=3306 [epmd]=4369 [rabbitmq]=5672 [keystone]=5000
                 [placement-api]=8778 [glance-api]=9292 [neutron-server]=9696
                 [cinder-api]=8776 [nova-api]=8774)

# Every service runs with this environment and nothing else. The marker
# variable lets stop find a process that left its process group.
SENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME" LANG=C.UTF-8 "VMMK_OSTACK_MEMBER=$B")

PACKAGES=(keystone python3-openstackclient python3-keystoneauth1 python3-yaml python3-pymysql
          placement-api nova-api nova-conductor nova-scheduler python3-nova
          neutron-server python3-neutron cinder-api cinder-scheduler python3-cinder
          glance-api python3-glance uwsgi uwsgi-plugin-python3
          mariadb-server mariadb-client rabbitmq-server erlang-base
          curl iproute2 procps util-linux)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

log() { printf 'ostack.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
elapsed() { local d=$(( ${EPOCHREALTIME/./} - T0 )); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
say() { printf '[%6ss] %s\n' "$(elapsed)" "$*"; }

# Show the end of a log after a failure, then exit.
fail_log() { # WHAT LOGFILE
    log "error: $1"
    if [ -s "$2" ]; then
        printf -- '--- last 40 lines of %s ---\n' "$2" >&2
        tail -n 40 -- "$2" >&2
        printf -- '--- end of %s ---\n' "$2" >&2
    fi
    log "state dir: $B (logs in $LOG). Stop what did start with: $SELF stop"
    exit 1
}
fail_service() { fail_log "$1 did not come up: $2" "$LOG/$1.log"; } # NAME WHY

# Start time (clock ticks after boot) of a process; with the pid and the
# boot id it identifies the process even after its pid is reused.
start_time() {
    local s
    { read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
    s=${s##*) }
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $s
    printf '%s\n' "${20}"
}

# Pid file: "PID STARTTIME BOOT_ID LAUNCH_EPOCH". PID leads the service's session.
alive() { # NAME
    local pid st boot rest
    [ -r "$RUN/$1.pid" ] || return 1
    read -r pid st boot rest < "$RUN/$1.pid" || return 1
    [ "$boot" = "$BOOT_ID" ] && [ "$(start_time "$pid" 2>/dev/null || true)" = "$st" ]
}
leader() { local pid rest; read -r pid rest < "$RUN/$1.pid"; printf '%s\n' "$pid"; }

group_pids() { ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'; }
is_ours() { grep -qzxF "VMMK_OSTACK_MEMBER=$B" "/proc/$1/environ" 2>/dev/null; }

# Prints the process group of a service if any of it still runs, else
# forgets the stale pid file.
our_group() { # NAME
    local pf=$RUN/$1.pid pid st boot rest p
    [ -r "$pf" ] || return 1
    if read -r pid st boot rest < "$pf" && [ "$boot" = "$BOOT_ID" ]; then
        if [ "$(start_time "$pid" 2>/dev/null || true)" = "$st" ]; then
            printf '%s\n' "$pid"; return 0
        fi
        # The leader is gone; children it left in its group are still ours.
        for p in $(group_pids "$pid"); do
            if is_ours "$p"; then printf '%s\n' "$pid"; return 0; fi
        done
    fi
    rm -f -- "$pf"
    return 1
}

port_open() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }
port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))$/\1/p' | head -n 1; }

# Start "CMD..." (which may begin with VAR=VALUE words) in a new session with
# the clean environment; stdout and stderr go to $LOG/NAME.log.
launch() { # NAME CMD...
    local name=$1 pf=$RUN/$1.pid lg=$LOG/$1.log pid st i
    shift
    alive "$name" && return 0
    if [ -n "${PORT[$name]:-}" ] && port_open "${PORT[$name]}"; then
        die "$name: port ${PORT[$name]} on $IP is taken by another process: $(port_owner "${PORT[$name]}"); stop it first"
    fi
    [ -e "$lg" ] && mv -f -- "$lg" "$lg.1"
    rm -f -- "$pf" "$pf.new"
    # bash records its own pid (= the service's after exec); setsid makes it
    # lead a new session and process group, whatever the caller's job control.
    # fd 9 (the lock) is closed: a service holding it would block the next start.
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
    setsid bash -c 'echo $$ > "$0" && exec "$@"' "$pf.new" env -i "${SENV[@]}" "$@" \
        </dev/null >>"$lg" 2>&1 9>&- &
    for i in $(seq 200); do [ -s "$pf.new" ] && break; sleep 0.05; done
    [ -s "$pf.new" ] || fail_service "$name" "could not be started"
    pid=$(<"$pf.new")
    st=$(start_time "$pid") || st=exited
    printf '%s %s %s %s\n' "$pid" "$st" "$BOOT_ID" "$(date +%s)" > "$pf"
    rm -f -- "$pf.new"
    LAUNCHED+=("$name")
}
LAUNCHED=()

# Poll "CMD..." until it succeeds; fail with NAME's log when NAME dies or
# TIMEOUT seconds pass.
wait_until() { # NAME TIMEOUT WHAT CMD...
    local name=$1 timeout=$2 what=$3 end=$((SECONDS + $2))
    shift 3
    until "$@"; do
        alive "$name" || fail_service "$name" "the process exited while $what"
        [ $SECONDS -lt $end ] || fail_service "$name" "$what: not done after $timeout s"
        sleep 0.5
    done
}
http_answers() { # URL: any HTTP status at all
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null) || true
    [ -n "$code" ] && [ "$code" != 000 ]
}

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
stamp_ok() { [ "$(cat -- "$STAMPS/$1" 2>/dev/null)" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" > "$STAMPS/$1"; }

# A one-shot OpenStack command (db sync, ...); output goes to $LOG/PROJ-manage.log.
manage() { # PROJ CMD...
    local lg=$LOG/$1-manage.log
    shift
    printf '\n== %s: %s\n' "$(date '+%F %T')" "$*" >> "$lg"
    env -i "${SENV[@]}" "$@" >> "$lg" 2>&1
}

prov() { env -i "${SENV[@]}" "$PY" "$HERE/ostack_provision.py" "$B" "$@"; }

mysql_root() { mysql --defaults-file="$MYCNF"; }
mysql_ping() { mysqladmin --defaults-file="$MYCNF" --connect-timeout=2 ping >/dev/null 2>&1; }

write() { cat > "$1.tmp" && mv -f -- "$1.tmp" "$1"; } # PATH < content, mode 0600 (umask)

lock() {
    mkdir -p -- "$B"
    exec 9>"$B/.lock"
    flock -w 900 9 || die "another ostack.sh start/stop holds $B/.lock"
}

# ---------------------------------------------------------------------------
# packages
# ---------------------------------------------------------------------------

install_packages() {
    local missing=() p st
    declare -A have=()
    while read -r p st; do have[$p]=$st; done < <(
        dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    for p in "${PACKAGES[@]}"; do [ "${have[$p]:-}" = installed ] || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]}; run '$SELF start' as root once"
    say "installing ${#missing[@]} missing packages: ${missing[*]}"
    # Tell the packages not to configure databases, RabbitMQ, keystone or
    # endpoints themselves; this script does it under $BASE.
    {
        local q
        for q in configure_db create-admin-tenant register-endpoint; do echo "keystone keystone/$q boolean false"; done
        for p in glance cinder neutron nova placement; do
            for q in configure_db configure_rabbit configure_ksat; do echo "$p-common $p/$q boolean false"; done
            echo "$p-api $p/configure_api-endpoint boolean false"
        done
        echo "nova-api novaapi/configure_db boolean false"
        echo "nova-common nova/configure_neutron boolean false"
        echo "nova-common nova/configure_placement boolean false"
        echo "neutron-common neutron/configure_nova boolean false"
    } | debconf-set-selections
    (   # policy-rc.d keeps dpkg from starting any service; put back whatever was there.
        prc=/usr/sbin/policy-rc.d saved=
        if [ -e $prc ]; then saved=$(mktemp); cp -p $prc "$saved"; fi
        trap 'if [ -n "$saved" ]; then mv -f "$saved" $prc; else rm -f $prc; fi' EXIT
        printf '#!/bin/sh\n# ostack.sh: no service starts during apt-get install\nexit 101\n' > $prc
        chmod 755 $prc
        apt() { DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"; }
        apt install --no-install-recommends "${missing[@]}" ||
            { apt update && apt install --no-install-recommends "${missing[@]}"; }
    ) >"$LOG/apt.log" 2>&1 || fail_log "apt-get install failed" "$LOG/apt.log"
}

# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

secrets() {
    local f=$ETC/secrets k
    if [ ! -s "$f" ]; then
        {
            echo "# Random test passwords of this sandbox (ostack.sh)."
            for k in ADMIN_PW SERVICE_PW DB_PW DEMO_PW APPCRED_SECRET; do
                printf '%s=%s\n' "$k" "$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')"
            done
        } | write "$f"
    fi
    # shellcheck disable=SC1090
    . "$f"
}

# Config file writers: ksa, authtoken, uwsgi_ini, write_configs.
# shellcheck source=tests/openstack/ostack-config.sh
. "$HERE/ostack-config.sh"

make_dirs() {
    mkdir -p -- "$ETC"/{mariadb,rabbitmq,keystone,placement,nova,neutron,cinder,glance,uwsgi} \
        "$LIB"/mariadb/{data,tmp,stamps} "$LIB"/rabbitmq/mnesia \
        "$LIB"/keystone/{fernet-keys,credential-keys} "$LIB"/nova/{instances,lock} \
        "$LIB"/neutron/{lock,plugins/vmmk_fakebind-1.0.dist-info} "$LIB"/cinder/lock \
        "$LIB"/glance/{images,staging,tasks,lock} "$LOG" "$RUN"
}

# ---------------------------------------------------------------------------
# MariaDB, epmd, RabbitMQ
# ---------------------------------------------------------------------------

start_infra() {
    if [ ! -d "$LIB/mariadb/data/mysql" ]; then
        mariadb-install-db --defaults-file="$MYCNF" --skip-test-db \
            --auth-root-authentication-method=socket >"$LOG/mariadb-install.log" 2>&1 ||
            fail_log "mariadb-install-db failed" "$LOG/mariadb-install.log"
        rm -f -- "$STAMPS"/*             # a new database: migrate everything again
    fi
    launch mariadb /usr/sbin/mysqld --defaults-file="$MYCNF"

    # epmd (Erlang's port mapper) would otherwise be started by RabbitMQ as
    # a daemon outside any process group we know. Start it ourselves unless
    # one already runs; a foreign one is used and left alone.
    if ! alive epmd && ! port_open "${PORT[epmd]}"; then
        launch epmd ERL_EPMD_ADDRESS=$IP /usr/bin/epmd -address $IP
        wait_until epmd 10 "listening on ${PORT[epmd]}" port_open "${PORT[epmd]}"
    fi
    launch rabbitmq HOME="$LIB/rabbitmq" ERL_EPMD_ADDRESS=$IP \
        RABBITMQ_NODENAME=vmmk-ostack@localhost RABBITMQ_NODE_IP_ADDRESS=$IP \
        RABBITMQ_NODE_PORT="${PORT[rabbitmq]}" RABBITMQ_DIST_PORT=25672 \
        RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$LIB/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOG" \
        RABBITMQ_PID_FILE="$LIB/rabbitmq/beam.pid" RABBITMQ_LOGS=- \
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
        /usr/lib/rabbitmq/bin/rabbitmq-server

    wait_until mariadb 60 "answering" mysql_ping
    # The OpenStack services' account and databases (password on stdin, not argv).
    local d sql="CREATE USER IF NOT EXISTS 'os'@'$IP'; ALTER USER 'os'@'$IP' IDENTIFIED BY '$DB_PW';"
    for d in keystone placement nova_api nova nova_cell0 neutron cinder glance; do
        sql+=" CREATE DATABASE IF NOT EXISTS $d; GRANT ALL PRIVILEGES ON $d.* TO 'os'@'$IP';"
    done
    mysql_root <<<"$sql" 2>"$LOG/mariadb-setup.log" ||
        fail_log "creating the databases failed" "$LOG/mariadb-setup.log"
    say "MariaDB up (:${PORT[mariadb]})"
}

# ---------------------------------------------------------------------------
# database migrations, one function per project, skipped when the stamp says
# this package version already migrated this database
# ---------------------------------------------------------------------------

sync_keystone() {
    local k=$ETC/keystone/keystone.conf v
    v="$SCHEMA_REV $(pkgver keystone)"
    if ! stamp_ok keystone "$v"; then
        manage keystone keystone-manage --config-file "$k" db_sync || return 1
        stamp_set keystone "$v"
    fi
    if [ ! -e "$LIB/keystone/fernet-keys/0" ]; then
        manage keystone keystone-manage --config-file "$k" fernet_setup \
            --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || return 1
    fi
    if [ ! -e "$LIB/keystone/credential-keys/0" ]; then
        manage keystone keystone-manage --config-file "$k" credential_setup \
            --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || return 1
    fi
    chmod 700 "$LIB/keystone/fernet-keys" "$LIB/keystone/credential-keys"
    # bootstrap: admin user/project/roles, RegionOne, the identity endpoints.
    # The password goes through the environment (OS_BOOTSTRAP_PASSWORD).
    v="$v $(printf '%s' "$ADMIN_PW" | sha256sum | cut -c1-16)"
    if ! stamp_ok keystone-bootstrap "$v"; then
        manage keystone bash -c 'read -r OS_BOOTSTRAP_PASSWORD; export OS_BOOTSTRAP_PASSWORD; exec "$@"' _ \
            keystone-manage --config-file "$k" bootstrap \
            --bootstrap-admin-url "http://$IP:5000/v3/" --bootstrap-internal-url "http://$IP:5000/v3/" \
            --bootstrap-public-url "http://$IP:5000/v3/" --bootstrap-region-id RegionOne \
            <<<"$ADMIN_PW" || return 1
        stamp_set keystone-bootstrap "$v"
    fi
}

sync_placement() {
    local v; v="$SCHEMA_REV $(pkgver placement-common)"
    stamp_ok placement "$v" && return 0
    manage placement placement-manage --config-dir "$ETC/placement" db sync || return 1
    stamp_set placement "$v"
}

sync_nova() {
    local n=(nova-manage --config-file "$ETC/nova/nova.conf") v cells
    v="$SCHEMA_REV $(pkgver python3-nova)"
    stamp_ok nova "$v" && return 0
    manage nova "${n[@]}" api_db sync || return 1
    cells=$(env -i "${SENV[@]}" "${n[@]}" cell_v2 list_cells 2>/dev/null) || true
    # cell0's URL is the [database] one with "_cell0" added: nova_cell0
    grep -q ' cell0 ' <<<"$cells" || manage nova "${n[@]}" cell_v2 map_cell0 || return 1
    grep -q ' cell1 ' <<<"$cells" || manage nova "${n[@]}" cell_v2 create_cell --name cell1 || return 1
    manage nova "${n[@]}" db sync || return 1
    stamp_set nova "$v"
}

sync_neutron() {
    local v; v="$SCHEMA_REV $(pkgver python3-neutron)"
    stamp_ok neutron "$v" && return 0
    manage neutron neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
        --config-file "$ETC/neutron/ml2_conf.ini" upgrade heads || return 1
    stamp_set neutron "$v"
}

sync_cinder() {
    local v; v="$SCHEMA_REV $(pkgver python3-cinder)"
    stamp_ok cinder "$v" && return 0
    manage cinder cinder-manage --config-file "$ETC/cinder/cinder.conf" db sync || return 1
    stamp_set cinder "$v"
}

sync_glance() {
    local v; v="$SCHEMA_REV $(pkgver python3-glance)"
    stamp_ok glance "$v" && return 0
    manage glance glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync || return 1
    stamp_set glance "$v"
}

declare -A SYNC_PID=()
# Never leave a migration running behind us, even when start fails.
wait_syncs_on_exit() { local p; for p in "${SYNC_PID[@]}"; do wait "$p" 2>/dev/null || true; done; }

sync_done() { # PROJ: wait for its background migration
    local p=${SYNC_PID[$1]:-}
    [ -n "$p" ] || return 0
    wait "$p" || fail_log "the $1 database migration failed" "$LOG/$1-manage.log"
    unset "SYNC_PID[$1]"
}

# ---------------------------------------------------------------------------
# start / stop / status / env
# ---------------------------------------------------------------------------

cmd_start() {
    lock
    make_dirs
    cd -- "$B"                          # the services' working directory
    install_packages
    say "packages present"
    secrets
    write_configs
    trap wait_syncs_on_exit EXIT

    start_infra
    local p
    for p in placement nova neutron cinder glance; do
        sync_$p & SYNC_PID[$p]=$!
    done

    sync_keystone || fail_log "keystone database setup failed" "$LOG/keystone-manage.log"
    launch keystone uwsgi --ini "$ETC/uwsgi/keystone.ini"
    wait_until keystone 120 "answering on :5000" http_answers "http://$IP:5000/v3"
    prov identity || fail_service keystone "provisioning service users and catalog failed"
    say "keystone up (:5000), service users and catalog ok"

    wait_until rabbitmq 120 "listening on :${PORT[rabbitmq]}" port_open "${PORT[rabbitmq]}"
    say "RabbitMQ up (:${PORT[rabbitmq]})"

    sync_done placement
    launch placement-api uwsgi --ini "$ETC/uwsgi/placement-api.ini"
    sync_done glance
    launch glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
    sync_done neutron
    launch neutron-server PYTHONPATH="$LIB/neutron/plugins" neutron-server \
        --config-file "$ETC/neutron/neutron.conf" --config-file "$ETC/neutron/ml2_conf.ini"
    sync_done cinder
    local cconf=$ETC/cinder/cinder.conf nconf=$ETC/nova/nova.conf
    launch cinder-api uwsgi --ini "$ETC/uwsgi/cinder-api.ini"
    launch cinder-scheduler cinder-scheduler --config-file "$cconf"
    # cinder-volume and nova-compute run from the python3-* modules: their own
    # packages pull in iSCSI tools, libvirt and qemu, which the fake drivers
    # do not need.
    launch cinder-volume "$PY" -c 'import sys; sys.argv[0] = "cinder-volume"
from cinder.cmd.volume import main; main()' --config-file "$cconf"
    sync_done nova
    launch nova-api uwsgi --ini "$ETC/uwsgi/nova-api.ini"
    launch nova-conductor nova-conductor --config-file "$nconf"
    launch nova-scheduler nova-scheduler --config-file "$nconf"
    launch nova-compute "$PY" -c 'import sys; sys.argv[0] = "nova-compute"
from nova.cmd.compute import main; main()' --config-file "$nconf"
    if [ ${#LAUNCHED[@]} -gt 0 ]; then say "launched: ${LAUNCHED[*]}"; else say "everything was running already"; fi

    local name
    for name in placement-api glance-api neutron-server cinder-api nova-api; do
        wait_until "$name" 180 "answering on :${PORT[$name]}" http_answers "http://$IP:${PORT[$name]}/"
    done
    say "every API answers"
    local out rc=0
    out=$(prov wait 300) || rc=$?
    if [ $rc -ne 0 ]; then
        local line; line=$(grep '^FAIL ' <<<"$out" | tail -n 1) || true
        [ -n "$line" ] || die "waiting for the services failed: $out"
        line=${line#FAIL }
        fail_service "${line%%:*}" "${line#*: }"
    fi
    say "every service is up (nova-compute and cinder-volume report, host mapped)"

    prov fixtures || die "provisioning the test fixtures failed"
    write "$B/env" <<EOF
# OpenStack test peer (tests/openstack/ostack.sh); source this file.
export VMMK_OSTACK_BASE=$(printf '%q' "$B")
export VMMK_OS_CLOUDS=$(printf '%q' "$B/clouds.yaml")
export VMMK_OS_SECURE=$(printf '%q' "$B/secure.yaml")
export VMMK_OS_CLOUD_ADMIN=vmmk-admin
export VMMK_OS_CLOUD_DEMO=vmmk-demo
export VMMK_OS_AUTH_URL=http://$IP:5000/v3
EOF
    chmod 600 "$B/clouds.yaml" "$B/secure.yaml" "$B/env"
    say "up: clouds $B/clouds.yaml, env $B/env"
}

# TERM the process groups of the services, KILL what is left after TIMEOUT s.
stop_set() { # TIMEOUT NAME...
    local timeout=$1 n pg end left
    shift
    local -a names=() groups=()
    for n in "$@"; do
        if pg=$(our_group "$n"); then
            kill -TERM -- "-$pg" 2>/dev/null || true
            names+=("$n"); groups+=("$pg")
        fi
    done
    [ ${#names[@]} -gt 0 ] || return 0
    end=$((SECONDS + timeout))
    while :; do
        left=0
        for pg in "${groups[@]}"; do [ -z "$(group_pids "$pg")" ] || left=1; done
        if [ $left -eq 0 ] || [ $SECONDS -ge $end ]; then break; fi
        sleep 0.2
    done
    for n in "${!names[@]}"; do
        if [ -n "$(group_pids "${groups[$n]}")" ]; then
            log "${names[$n]} did not stop within $timeout s; killing it"
            kill -KILL -- "-${groups[$n]}" 2>/dev/null || true
        fi
        rm -f -- "$RUN/${names[$n]}.pid"
    done
    say "stopped ${names[*]}"
}

# Processes carrying this sandbox's marker that escaped their process group.
strays() { grep -lzxF "VMMK_OSTACK_MEMBER=$B" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true; }

cmd_stop() {
    lock
    local i
    local rev=()
    for ((i = ${#OPENSTACK[@]} - 1; i >= 0; i--)); do rev+=("${OPENSTACK[$i]}"); done
    stop_set 30 "${rev[@]}"
    stop_set 60 rabbitmq
    stop_set 60 mariadb
    stop_set 10 epmd
    local s=()
    mapfile -t s < <(strays)
    if [ ${#s[@]} -gt 0 ]; then
        log "processes of this sandbox outside their groups: ${s[*]}; stopping them"
        kill -TERM "${s[@]}" 2>/dev/null || true
        sleep 3
        mapfile -t s < <(strays)
        [ ${#s[@]} -eq 0 ] || kill -KILL "${s[@]}" 2>/dev/null || true
    fi
    say "nothing of $B runs"
}

cmd_status() {
    local name pid n=0 up=0 total=0 rss procs
    declare -A grss=() gcnt=()
    while read -r pg kb; do
        grss[$pg]=$(( ${grss[$pg]:-0} + kb )); gcnt[$pg]=$(( ${gcnt[$pg]:-0} + 1 ))
    done < <(ps -e -o pgid=,rss=)
    printf '%-17s %8s %6s %5s %8s  %s\n' service pid port procs "RSS(MB)" state
    for name in "${SERVICES[@]}"; do
        n=$((n + 1))
        if alive "$name"; then
            pid=$(leader "$name"); up=$((up + 1))
            rss=$(( ${grss[$pid]:-0} / 1024 )); procs=${gcnt[$pid]:-0}; total=$((total + rss))
            printf '%-17s %8s %6s %5s %8s  %s\n' "$name" "$pid" "${PORT[$name]:--}" "$procs" "$rss" running
        elif [ "$name" = epmd ] && port_open "${PORT[epmd]}"; then
            printf '%-17s %8s %6s %5s %8s  %s\n' "$name" - "${PORT[epmd]}" - - "running (not ours)"
            n=$((n - 1))
        else
            printf '%-17s %8s %6s %5s %8s  %s\n' "$name" - "${PORT[$name]:--}" - - stopped
        fi
    done
    echo "$up of $n services running, total RSS $total MB; state dir $B"
    [ $up -eq $n ] && return 0
    [ $up -gt 0 ] && return 1
    return 3
}

cmd_env() {
    [ -r "$B/env" ] || die "no $B/env: run '$SELF start' first"
    alive keystone || log "warning: the sandbox is not running ($SELF start)"
    cat -- "$B/env"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
