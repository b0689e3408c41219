#!/usr/bin/env bash
# Smoke test of the OpenStack test peer (tests/openstack/ostack.sh), run
# against the running sandbox. It checks with curl and with the `openstack`
# CLI (OS_CLOUD=vmmk-admin and the sandbox's clouds.yaml/secure.yaml):
#   - Keystone issues a token (raw REST, and the CLI), and each fixture cloud
#     authenticates or fails as designed;
#   - the catalog lists identity, compute, network, volumev3, block-storage
#     and image, each with a public endpoint in RegionOne;
#   - an image (a few KiB) can be created and uploaded, reaches "active",
#     comes back byte for byte, and is deleted.
# Prints PASS/FAIL lines; exits 1 if anything fails.
#
# Needs the sandbox started and its env file sourced:
#   tests/openstack/ostack.sh start && . ~/.cache/vmmk/ostack/env
# Without VMMK_OS_CLOUDS it skips (exit 77), unless VMMK_REQUIRE_OPENSTACK=1,
# in which case it fails.
set -uo pipefail

if [ -z "${VMMK_OS_CLOUDS:-}" ]; then
    msg="VMMK_OS_CLOUDS is not set: the OpenStack sandbox is not started (tests/openstack/ostack.sh start, then source the env file it writes)"
    if [ "${VMMK_REQUIRE_OPENSTACK:-0}" = 1 ]; then
        echo "FAIL: VMMK_REQUIRE_OPENSTACK=1 but $msg"
        exit 1
    fi
    echo "SKIP: $msg"
    exit 77
fi

PY=/usr/bin/python3
OSC=("$PY" /usr/bin/openstack)
CLOUDS=$VMMK_OS_CLOUDS
SECURE=${VMMK_OS_SECURE:-$(dirname -- "$CLOUDS")/secure.yaml}
export OS_CLIENT_CONFIG_FILE=$CLOUDS OS_CLIENT_SECURE_FILE=$SECURE OS_CLOUD=vmmk-admin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmmk-ostack-smoke.XXXXXX")
IMAGE_ID=

FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); printf 'PASS: %s\n' "$*"; }
fail() { FAILS=$((FAILS + 1)); printf 'FAIL: %s\n' "$*"; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; } # NAME EXPECTED ACTUAL
osc() { "${OSC[@]}" "$@"; }

cleanup() {
    [ -z "$IMAGE_ID" ] || osc image delete "$IMAGE_ID" >/dev/null 2>&1 || true
    rm -rf -- "$WORK"
}
trap cleanup EXIT

[ -r "$CLOUDS" ] || { fail "VMMK_OS_CLOUDS=$CLOUDS is not readable"; exit 1; }

# Everything below reads clouds.yaml through a small Python helper. It
# writes the request bodies into $WORK (mode 0700), so no password reaches
# a command line.
cloud_value() { # CLOUD KEY...: a value of clouds.yaml (secure.yaml merged over it)
    "$PY" - "$CLOUDS" "$SECURE" "$@" <<'EOF'
import sys, yaml
def load(p):
    try:
        with open(p) as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        return {}
def merge(a, b):
    for k, v in b.items():
        a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a
c = merge(load(sys.argv[1]), load(sys.argv[2]))["clouds"][sys.argv[3]]
for k in sys.argv[4:]:
    c = c[k]
print(c)
EOF
}

AUTH_URL=$(cloud_value vmmk-admin auth auth_url) || { fail "clouds.yaml has no vmmk-admin cloud"; exit 1; }

# --- 1. token by raw REST ------------------------------------------------------
"$PY" - "$CLOUDS" > "$WORK/auth.json" <<'EOF'
import json, sys, yaml
a = yaml.safe_load(open(sys.argv[1]))["clouds"]["vmmk-admin"]["auth"]
print(json.dumps({"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": a["username"], "password": a["password"],
        "domain": {"name": a["user_domain_name"]}}}},
    "scope": {"project": {"name": a["project_name"],
                          "domain": {"name": a["project_domain_name"]}}}}}))
EOF
code=$(curl -s -D "$WORK/hdr" -o "$WORK/token.json" -w '%{http_code}' -X POST \
       -H 'Content-Type: application/json' --data @"$WORK/auth.json" "$AUTH_URL/auth/tokens")
check "POST /v3/auth/tokens (curl) status" 201 "$code"
TOKEN=$(sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *\([^[:space:]]*\).*/\1/p' "$WORK/hdr")
if [ -n "$TOKEN" ]; then pass "X-Subject-Token present"; else fail "no X-Subject-Token in the response"; fi

# --- 2. catalog (from the token body, and from the CLI) -------------------------
WANT="block-storage compute identity image network volumev3"
# shellcheck disable=SC2086 # one argument per type
got=$("$PY" - "$WORK/token.json" $WANT <<'EOF'
import json, sys
cat = json.load(open(sys.argv[1]))["token"]["catalog"]
ok = []
for t in sys.argv[2:]:
    if any(s["type"] == t and any(e["interface"] == "public" and e["region_id"] == "RegionOne"
                                  for e in s["endpoints"]) for s in cat):
        ok.append(t)
print(" ".join(ok))
EOF
) || got="(unreadable token body)"
check "catalog in the token has public RegionOne endpoints for: $WANT" "$WANT" "$got"
IMAGE_URL=$("$PY" -c '
import json, sys
cat = json.load(open(sys.argv[1]))["token"]["catalog"]
print(next(e["url"] for s in cat if s["type"] == "image" for e in s["endpoints"] if e["interface"] == "public").rstrip("/"))
' "$WORK/token.json" 2>/dev/null) || IMAGE_URL=

cli_token=$(osc token issue -f value -c id 2>"$WORK/err") || cli_token=
if [ -n "$cli_token" ]; then pass "openstack token issue (vmmk-admin)"; else fail "openstack token issue: $(tail -n 1 "$WORK/err")"; fi
cli_types=$(osc catalog list -f value -c Type 2>"$WORK/err") || cli_types=
missing=
for t in $WANT; do grep -qx "$t" <<<"$cli_types" || missing+=" $t"; done
check "openstack catalog list has $WANT (missing listed)" "" "${missing# }"

# --- 3. the fixture clouds -------------------------------------------------------
for c in vmmk-demo vmmk-appcred vmmk-appcred-name; do
    if out=$(osc --os-cloud "$c" token issue -f value -c project_id 2>&1); then
        pass "cloud $c authenticates (project $out)"
    else
        fail "cloud $c: $(tail -n 1 <<<"$out")"
    fi
done
if out=$(osc --os-cloud vmmk-badpw token issue 2>&1); then
    fail "cloud vmmk-badpw authenticated"
elif grep -q 'HTTP 401' <<<"$out"; then
    pass "cloud vmmk-badpw is refused (401)"
else
    fail "cloud vmmk-badpw: $out"
fi
if out=$(osc --os-cloud vmmk-down token issue 2>&1); then
    fail "cloud vmmk-down authenticated"
elif grep -qi 'unable to establish connection' <<<"$out"; then
    pass "cloud vmmk-down cannot connect"
else
    fail "cloud vmmk-down: $out"
fi

# --- 4. an image: create + upload, active, download, delete ----------------------
head -c 4096 /dev/urandom > "$WORK/image.raw"
printf 'vmmk smoke image\n' >> "$WORK/image.raw"
size=$(stat -c %s "$WORK/image.raw")
md5=$(md5sum < "$WORK/image.raw" | cut -d' ' -f1)
name=vmmk-smoke-img-$$
image_field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$WORK/image.json" "$1" 2>/dev/null; }
IMAGE_ID=$(osc image create --private --disk-format raw --container-format bare \
           --file "$WORK/image.raw" "$name" -f value -c id 2>"$WORK/err") || IMAGE_ID=
if [ -n "$IMAGE_ID" ]; then
    pass "openstack image create --file ($size bytes)"
    st=
    for _ in $(seq 60); do
        osc image show "$IMAGE_ID" -f json > "$WORK/image.json" 2>/dev/null || : > "$WORK/image.json"
        st=$(image_field status)
        case $st in active|killed|deleted) break ;; esac
        sleep 1
    done
    check "image status" active "$st"
    check "image size" "$size" "$(image_field size)"
    check "image checksum (md5)" "$md5" "$(image_field checksum)"
    if ! osc image save --file "$WORK/back.raw" "$IMAGE_ID" 2>"$WORK/err"; then
        fail "openstack image save: $(tail -n 1 "$WORK/err")"
    elif cmp -s "$WORK/image.raw" "$WORK/back.raw"; then
        pass "openstack image save gives the same bytes"
    else
        fail "openstack image save gives other bytes than were uploaded"
    fi
    if [ -n "$IMAGE_URL" ] && [ -n "$TOKEN" ]; then
        # The token goes in a header file, not on curl's command line.
        printf 'X-Auth-Token: %s\n' "$TOKEN" > "$WORK/authhdr"
        code=$(curl -s -o "$WORK/curl.raw" -w '%{http_code}' -H @"$WORK/authhdr" "$IMAGE_URL/v2/images/$IMAGE_ID/file")
        check "GET /v2/images/ID/file (curl) status" 200 "$code"
        if cmp -s "$WORK/image.raw" "$WORK/curl.raw"; then
            pass "curl download gives the same bytes"
        else
            fail "curl download differs from the upload"
        fi
    else
        fail "no image endpoint or token for the curl download"
    fi
    if osc image delete "$IMAGE_ID" 2>"$WORK/err"; then
        pass "openstack image delete"
        code=$(curl -s -o /dev/null -w '%{http_code}' -H @"$WORK/authhdr" "$IMAGE_URL/v2/images/$IMAGE_ID" 2>/dev/null)
        check "GET /v2/images/ID after delete" 404 "$code"
        IMAGE_ID=
    else
        fail "openstack image delete: $(tail -n 1 "$WORK/err")"
    fi
else
    fail "openstack image create: $(tail -n 1 "$WORK/err")"
fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
