#!/usr/bin/env bash
# vcsim.sh — the vSphere test peer for libvmmk: VMware's vCenter simulator
# (vcsim) and govc from the Debian govmomi packages, plus a test-only
# QueryChangedDiskAreas extension (tests/vsphere/vcsim-ext/cbt.go).
#
#   vcsim.sh build                      install Debian packages if missing, build
#                                       vcsim + govc once into the cache, print the dir
#   vcsim.sh start [--port P] [--vms N] [--trace] [-- | extra vcsim args...]
#                                       start on 127.0.0.1, print "PID URL"
#   vcsim.sh stop                       TERM, then KILL, the PID in the state dir
#   vcsim.sh env                        print export lines (GOVC_URL, ...) for eval
#   vcsim.sh status                     print "PID URL" and exit 0 if running, else exit 1
#   vcsim.sh bindir                     print the cache dir of the current build
#
# Environment:
#   VMMK_CACHE            cache root                (default $HOME/.cache/vmmk)
#   VMMK_VCSIM_STATE      state dir of the instance (default /tmp/vmmk-vcsim)
#   VMMK_VCSIM_USER       vcsim -username           (default user)
#   VMMK_VCSIM_PASSWORD   vcsim -password           (default pass)
#
# The Go build is offline (GO111MODULE=off GOPROXY=off): every Go package
# comes from Debian.  The govmomi *source* package is fetched with a private
# apt sources file whose deb-src entry is derived at run time from the
# machine's own apt sources; /etc/apt is never modified and no mirror name is
# written in this repository.  See docs/vcsim.md.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
EXT_FILE="$HERE/vcsim-ext/cbt.go"
CACHE_ROOT=${VMMK_CACHE:-${HOME:?HOME is not set}/.cache/vmmk}
STATE=${VMMK_VCSIM_STATE:-/tmp/vmmk-vcsim}
VC_USER=${VMMK_VCSIM_USER:-user}
VC_PASS=${VMMK_VCSIM_PASSWORD:-pass}
SRC_PKG=golang-github-vmware-govmomi
DEV_PKG=golang-github-vmware-govmomi-dev
# vcsim: golang-go + govmomi-dev (pulls google-uuid-dev); govc: kr-pretty-dev
# (pulls kr-text, rogpeppe-go-internal); source unpacking: dpkg-dev, xz-utils;
# readiness probe and tests: curl.
PACKAGES=(golang-go "$DEV_PKG" golang-github-google-uuid-dev golang-github-kr-pretty-dev
          dpkg-dev xz-utils ca-certificates curl)

log() { printf 'vcsim.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -- "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

install_packages() {
    local missing=() p st
    for p in "${PACKAGES[@]}"; do
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$st" = installed ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2 \
        || { as_root apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
             as_root env DEBIAN_FRONTEND=noninteractive \
                 apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >&2; }
}

govmomi_version() {
    dpkg-query -W -f='${Version}' "$DEV_PKG" 2>/dev/null || true
}

# Cache dir of the build for the installed govmomi and the current extension.
build_dir() {
    local ver sum
    ver=$(govmomi_version)
    [ -n "$ver" ] || return 1
    sum=$(sha256sum -- "$EXT_FILE" | cut -c1-12)
    # Debian versions may contain ':' (epoch) and '~'; keep the name plain.
    printf '%s/vcsim-%s-%s\n' "$CACHE_ROOT" "${ver//[^A-Za-z0-9.+-]/_}" "$sum"
}

# Print a deb822 stanza "Types: deb-src" for the release's main archive,
# derived from the machine's apt sources (deb822 *.sources first, then
# one-line sources.list / *.list).  Options of the entry (Signed-By,
# Check-Valid-Until, Trusted, ...) are carried over; the URI is the entry's
# own.  Prints nothing when no entry matches.
derive_deb_src() {
    local codename=$1 f out
    local -a sources=() lists=()
    for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
    [ -f /etc/apt/sources.list ] && lists+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done

    if [ ${#sources[@]} -gt 0 ]; then
        # shellcheck disable=SC2016
        out=$(awk -v code="$codename" '
            function has(list, word,   n, i, a) {
                n = split(list, a, /[ \t]+/)
                for (i = 1; i <= n; i++) if (a[i] == word) return 1
                return 0
            }
            function flush(   n, u) {
                if (nf > 0 && tolower(f["enabled"]) != "no" &&
                    (has(f["types"], "deb") || has(f["types"], "deb-src")) &&
                    has(f["suites"], code) && has(f["components"], "main")) {
                    n = split(f["uris"], u, /[ \t]+/)
                    if (u[1] == "") u[1] = u[2]
                    printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n%s", u[1], code, extra
                    done = 1
                    exit 0
                }
                delete f; nf = 0; extra = ""; cur = ""
            }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ {
                if (cur == "") next
                if (keep) extra = extra $0 "\n"; else f[cur] = f[cur] " " $0
                next
            }
            {
                i = index($0, ":"); if (i == 0) next
                cur = tolower(substr($0, 1, i - 1))
                v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
                keep = (cur != "types" && cur != "uris" && cur != "suites" &&
                        cur != "components" && cur != "enabled" && cur != "architectures")
                if (keep) extra = extra $0 "\n"; else f[cur] = v
                nf++
            }
            END { if (!done) flush() }' "${sources[@]}")
        [ -n "$out" ] && { printf '%s\n' "$out"; return 0; }
    fi

    if [ ${#lists[@]} -gt 0 ]; then
        # One-line format: deb [opt=val ...] URI SUITE COMPONENT...
        # shellcheck disable=SC2016
        out=$(awk -v code="$codename" '
            /^[ \t]*#/ { next }
            $1 == "deb" || $1 == "deb-src" {
                line = $0; sub(/#.*/, "", line)
                opts = ""
                if (match(line, /\[[^]]*\]/)) {
                    opts = substr(line, RSTART + 1, RLENGTH - 2)
                    line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
                }
                n = split(line, w, /[ \t]+/)
                k = 1; while (w[k] == "") k++
                uri = w[k + 1]; suite = w[k + 2]
                if (suite != code) next
                main = 0
                for (i = k + 3; i <= n; i++) if (w[i] == "main") main = 1
                if (!main) next
                extra = ""
                m = split(opts, o, /[ \t]+/)
                for (i = 1; i <= m; i++) {
                    if (o[i] == "" || index(o[i], "=") == 0) continue
                    key = substr(o[i], 1, index(o[i], "=") - 1)
                    val = substr(o[i], index(o[i], "=") + 1)
                    if (key == "arch" || key == "lang" || key == "target") continue
                    gsub(/,/, " ", val)
                    extra = extra key ": " val "\n"
                }
                printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n%s", uri, code, extra
                exit 0
            }' "${lists[@]}")
        [ -n "$out" ] && { printf '%s\n' "$out"; return 0; }
    fi
    return 1
}

fetch_source() {
    # $1: work dir, $2: Debian version; leaves $1/govmomi-<version> unpacked.
    local work=$1 ver=$2 codename stanza
    local tree="$work/govmomi-$ver"
    [ -f "$tree/.vmmk-unpacked" ] && return 0

    codename=$(sed -n 's/^VERSION_CODENAME=["'\'']\{0,1\}\([a-z0-9]*\).*/\1/p' /etc/os-release)
    [ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
    stanza=$(derive_deb_src "$codename") ||
        die "no '$codename main' entry in /etc/apt/sources.list{,.d/*.list,.d/*.sources} to derive deb-src from"

    local apt="$work/apt"
    rm -rf -- "$apt"
    mkdir -p -- "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/src"
    printf '%s\n' "$stanza" >"$apt/govmomi-src.sources"
    log "deb-src entry (private, derived from this machine's apt sources):"
    sed 's/^/    /' "$apt/govmomi-src.sources" >&2

    local -a aptopts=(
        -o "Dir::Etc::SourceList=$apt/govmomi-src.sources"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists"
        -o "Dir::Cache=$apt/cache"
        -o "APT::Get::List-Cleanup=false"
    )
    # As root, apt drops to user _apt, which cannot enter a private $HOME.
    [ "$(id -u)" -eq 0 ] && aptopts+=(-o "APT::Sandbox::User=root")

    apt-get "${aptopts[@]}" update >&2
    (cd -- "$apt/src" && apt-get "${aptopts[@]}" source --download-only "$SRC_PKG=$ver" >&2)
    local dsc
    dsc=$(find "$apt/src" -maxdepth 1 -name "${SRC_PKG}_*.dsc" -print -quit)
    [ -n "$dsc" ] || die "apt-get source did not produce a .dsc"
    rm -rf -- "$tree"
    dpkg-source --no-check -x "$dsc" "$tree" >&2   # applies debian/patches
    if [ ! -d "$tree/vcsim" ] || [ ! -d "$tree/govc" ] || [ ! -d "$tree/simulator" ]; then
        die "unexpected source layout in $tree"
    fi
    touch -- "$tree/.vmmk-unpacked"
}

cmd_build() {
    [ -f "$EXT_FILE" ] || die "missing $EXT_FILE"
    install_packages
    local ver dest
    ver=$(govmomi_version)
    [ -n "$ver" ] || die "$DEV_PKG is not installed"
    dest=$(build_dir)
    if [ -x "$dest/vcsim" ] && [ -x "$dest/govc" ]; then
        log "up to date: $dest"
        printf '%s\n' "$dest"
        return 0
    fi

    local work="$CACHE_ROOT/vcsim-build"
    mkdir -p -- "$work"
    # One build at a time per cache (parallel CI jobs share it).
    exec 9>"$work/lock"
    flock 9
    if [ -x "$dest/vcsim" ] && [ -x "$dest/govc" ]; then
        printf '%s\n' "$dest"
        return 0
    fi

    local t0 t1
    t0=$(date +%s)
    fetch_source "$work" "$ver"
    t1=$(date +%s)

    # Private GOPATH: the full govmomi tree (with vcsim/ and govc/) plus the
    # extension, ahead of Debian's /usr/share/gocode for everything else.
    local gp="$work/gopath"
    local pkgdir="$gp/src/github.com/vmware/govmomi"
    rm -rf -- "$gp"
    mkdir -p -- "$gp/src/github.com/vmware"
    cp -a -- "$work/govmomi-$ver" "$pkgdir"
    cp -- "$EXT_FILE" "$pkgdir/simulator/zz_vmmk_cbt.go"

    local tmp="$dest.tmp.$$"
    rm -rf -- "$tmp"
    mkdir -p -- "$tmp"
    (
        export GOPATH="$gp:/usr/share/gocode" GO111MODULE=off GOFLAGS='' GOPROXY=off \
               GOCACHE="$work/gocache" CGO_ENABLED=0 GOTOOLCHAIN=local
        cd -- "$work"
        go build -o "$tmp/vcsim" github.com/vmware/govmomi/vcsim || exit 1
        t2=$(date +%s)
        go build -o "$tmp/govc" github.com/vmware/govmomi/govc || exit 1
        t3=$(date +%s)
        {
            printf 'govmomi %s (Debian source package %s)\n' "$ver" "$SRC_PKG"
            printf 'extension %s sha256 %s\n' "vcsim-ext/cbt.go" "$(sha256sum -- "$EXT_FILE" | cut -d' ' -f1)"
            printf '%s\n' "$(go version)"
            printf 'built %s; source %ss, vcsim %ss, govc %ss\n' \
                "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((t1 - t0))" "$((t2 - t1))" "$((t3 - t2))"
        } >"$tmp/BUILD-INFO"
    ) || { rm -rf -- "$tmp" "$gp"; die "go build failed"; }
    rm -rf -- "$dest"
    mv -- "$tmp" "$dest"
    rm -rf -- "$gp"   # recreated by every build; the Go build cache stays
    log "built in $(( $(date +%s) - t0 ))s: $dest"
    printf '%s\n' "$dest"
}

# ---------------------------------------------------------------------------
# start / stop / env / status
# ---------------------------------------------------------------------------

# PID of the running instance recorded in $STATE, if it is still that vcsim.
running_pid() {
    local pid exe
    [ -f "$STATE/pid" ] || return 1
    pid=$(<"$STATE/pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled PID: the process must run our binary.
    if [ -f "$STATE/bin" ] && exe=$(readlink -- "/proc/$pid/exe" 2>/dev/null); then
        [ "${exe% (deleted)}" = "$(<"$STATE/bin")" ] || return 1
    fi
    printf '%s\n' "$pid"
}

cmd_start() {
    local port=0 vms="" trace=0
    local -a extra=()
    while [ $# -gt 0 ]; do
        case $1 in
            --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
            --port=*) port=${1#--port=}; shift ;;
            --vms) [ $# -ge 2 ] || die "--vms needs a value"; vms=$2; shift 2 ;;
            --vms=*) vms=${1#--vms=}; shift ;;
            --trace) trace=1; shift ;;
            --) shift; extra+=("$@"); break ;;
            *) extra+=("$1"); shift ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "bad --port: $port"
    [ -z "$vms" ] || [[ $vms =~ ^[0-9]+$ ]] || die "bad --vms: $vms"

    local pid
    if pid=$(running_pid); then
        die "already running (PID $pid, state $STATE); run: $0 stop"
    fi

    local dir
    dir=$(build_dir) || die "govmomi is not installed; run: $0 build"
    local bin="$dir/vcsim"
    [ -x "$bin" ] || die "no vcsim in $dir; run: $0 build"

    mkdir -p -- "$STATE"
    [ -O "$STATE" ] || die "state dir $STATE belongs to another user"
    chmod 700 -- "$STATE"
    rm -f -- "$STATE/pid" "$STATE/url" "$STATE/port" "$STATE/vcsim.out" "$STATE/vcsim.log"
    printf '%s\n' "$bin" >"$STATE/bin"
    printf '%s\n' "$dir" >"$STATE/bindir"
    # The credentials this instance enforces, for "env" (private to the user).
    (umask 077 && printf '%s\n' "$VC_USER" >"$STATE/user" && printf '%s\n' "$VC_PASS" >"$STATE/password")

    local -a args=(-l "127.0.0.1:$port" -username "$VC_USER" -password "$VC_PASS")
    [ -n "$vms" ] && args+=(-vm "$vms")
    [ "$trace" -eq 1 ] && args+=(-trace -trace-file "$STATE/soap-trace.log")
    args+=("${extra[@]}")

    # setsid: own session, so a Ctrl-C in the caller's terminal does not reach
    # it; all fds redirected so "$(vcsim.sh start)" returns at once.
    setsid "$bin" "${args[@]}" </dev/null >"$STATE/vcsim.out" 2>"$STATE/vcsim.log" &
    pid=$!
    printf '%s\n' "$pid" >"$STATE/pid"

    # vcsim prints "export GOVC_URL=https://user:pass@127.0.0.1:PORT/sdk GOVC_SIM_PID=N".
    local i line scheme hostport url=""
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f -- "$STATE/pid"
            log "vcsim exited during startup; its log:"
            cat -- "$STATE/vcsim.log" >&2 || true
            exit 1
        fi
        if [ -z "$url" ] && line=$(grep -m1 -o 'GOVC_URL=[^ ]*' "$STATE/vcsim.out" 2>/dev/null); then
            line=${line#GOVC_URL=}
            scheme=${line%%://*}
            hostport=${line#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
            url="$scheme://$hostport/sdk"
        fi
        if [ -n "$url" ] && curl -sk --max-time 2 -o /dev/null -f -- "${url%/sdk}/about"; then
            break
        fi
        sleep 0.05
    done
    if [ -z "$url" ] || ! curl -sk --max-time 2 -o /dev/null -f -- "${url%/sdk}/about"; then
        log "vcsim did not become ready; stopping it"
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    if grep -q 'GOVC_SIM_PID=' "$STATE/vcsim.out" &&
        ! grep -q "GOVC_SIM_PID=$pid\\b" "$STATE/vcsim.out"; then
        log "warning: vcsim reports another PID than $pid"
    fi
    printf '%s\n' "$url" >"$STATE/url"
    printf '%s\n' "${hostport##*:}" >"$STATE/port"
    printf '%s %s\n' "$pid" "$url"
}

cmd_stop() {
    local pid i
    if ! pid=$(running_pid); then
        rm -f -- "$STATE/pid"
        log "not running (state $STATE)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true    # vcsim removes its /tmp/govcsim-* dirs on TERM
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "PID $pid ignored TERM; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -f -- "$STATE/pid"
    log "stopped PID $pid"
}

cmd_status() {
    local pid
    pid=$(running_pid) || { log "not running (state $STATE)"; return 1; }
    printf '%s %s\n' "$pid" "$(<"$STATE/url")"
}

cmd_env() {
    local pid url dir
    pid=$(running_pid) || die "not running (state $STATE); run: $0 start"
    url=$(<"$STATE/url")
    dir=$(<"$STATE/bindir")
    local user=$VC_USER pass=$VC_PASS
    [ -f "$STATE/user" ] && user=$(<"$STATE/user")
    [ -f "$STATE/password" ] && pass=$(<"$STATE/password")
    local k v
    while IFS='=' read -r k v; do
        printf 'export %s=%q\n' "$k" "$v"
    done <<EOF
GOVC_URL=$url
GOVC_USERNAME=$user
GOVC_PASSWORD=$pass
GOVC_INSECURE=1
GOVC_PERSIST_SESSION=false
VMMK_VCSIM_URL=$url
VMMK_VCSIM_PID=$pid
VMMK_VCSIM_USER=$user
VMMK_VCSIM_PASSWORD=$pass
VMMK_VCSIM_BINDIR=$dir
VMMK_GOVC=$dir/govc
EOF
}

cmd_bindir() {
    local dir
    dir=$(build_dir) || die "govmomi is not installed; run: $0 build"
    [ -x "$dir/vcsim" ] || die "not built yet: $dir; run: $0 build"
    printf '%s\n' "$dir"
}

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
    exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
    build) [ $# -eq 0 ] || usage; cmd_build ;;
    start) cmd_start "$@" ;;
    stop) [ $# -eq 0 ] || usage; cmd_stop ;;
    env) [ $# -eq 0 ] || usage; cmd_env ;;
    status) [ $# -eq 0 ] || usage; cmd_status ;;
    bindir) [ $# -eq 0 ] || usage; cmd_bindir ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
