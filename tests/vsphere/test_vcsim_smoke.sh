#!/usr/bin/env bash
# Smoke test of the vSphere test peer (tests/vsphere/vcsim.sh): builds vcsim
# and govc (cached), starts vcsim on 127.0.0.1, prepares a fixture with govc,
# and checks the CBT extension's QueryChangedDiskAreas by raw SOAP (curl)
# against exactly known changed areas.  Prints PASS/FAIL lines; exits non-zero
# when anything fails.  Uses its own state dir, so a vcsim started by hand
# with vcsim.sh (default state dir) is left alone.
#
#   tests/vsphere/test_vcsim_smoke.sh
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
VCSIM_SH="$HERE/vcsim.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmmk-vcsim-smoke.XXXXXX")
export VMMK_VCSIM_STATE="$WORK/state"
CJ="$WORK/cookies"
RESP="$WORK/resp.xml"
KIB=1024
MIB=$((1024 * 1024))
BS=$((64 * KIB))        # the extension's block size

cleanup() {
    "$VCSIM_SH" stop >/dev/null 2>&1 || true
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'printf "FAIL: unexpected error (status %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND"' ERR

FAILS=0
PASSES=0
# Sections append their name when they finish; a shell error that aborts a
# compound command without exiting (e.g. a bad arithmetic expansion) is then
# caught by the final check.
REACHED=""
reached() { REACHED="${REACHED:+$REACHED }$1"; }
pass() { PASSES=$((PASSES + 1)); printf 'PASS: %s\n' "$*"; }
fail() { FAILS=$((FAILS + 1)); printf 'FAIL: %s\n' "$*"; }
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
die() { fail "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

xml_escape() {
    local s=$1
    s=${s//&/&amp;}; s=${s//</&lt;}; s=${s//>/&gt;}; s=${s//\"/&quot;}
    printf '%s' "$s"
}

# soap BODY: POSTs a SOAP envelope, response body in $RESP, prints HTTP status.
soap() {
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n<soapenv:Body>\n%s\n</soapenv:Body>\n</soapenv:Envelope>\n' "$1" |
        curl -sk --max-time 30 -b "$CJ" -c "$CJ" -o "$RESP" -w '%{http_code}' \
            -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:vim25/6.5"' \
            --data-binary @- -- "$VMMK_VCSIM_URL"
}

# Fault type in the response detail ("" if none); the prefix of the type
# attribute is not fixed, so match any "<prefix>:type".
fault_type() {
    grep -o '<detail><[A-Za-z]*[^>]*:type="[A-Za-z]*"' "$RESP" | sed 's/.*:type="\([A-Za-z]*\)"/\1/' | head -n1 || true
}

# areas: "start+length" of every changedArea, space separated.
areas() {
    { grep -o '<changedArea><start>[0-9]*</start><length>[0-9]*</length></changedArea>' "$RESP" || true; } |
        sed 's#<changedArea><start>\([0-9]*\)</start><length>\([0-9]*\)</length></changedArea>#\1+\2#' |
        paste -sd' ' -
}
# window: "startOffset+length" of the DiskChangeInfo.
window() {
    { grep -o '<returnval><startOffset>-\{0,1\}[0-9]*</startOffset><length>[0-9]*</length>' "$RESP" || true; } |
        sed 's#<returnval><startOffset>\(-\{0,1\}[0-9]*\)</startOffset><length>\([0-9]*\)</length>#\1+\2#'
}

# qcda SNAPSHOT DEVICEKEY STARTOFFSET CHANGEID: prints HTTP status.
qcda() {
    local snap=""
    [ -n "$1" ] && snap="<snapshot type=\"VirtualMachineSnapshot\">$(xml_escape "$1")</snapshot>"
    soap "<QueryChangedDiskAreas xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$(xml_escape "$VM")</_this>$snap<deviceKey>$2</deviceKey><startOffset>$3</startOffset><changeId>$(xml_escape "$4")</changeId></QueryChangedDiskAreas>"
}

# expect_areas NAME SNAPSHOT STARTOFFSET CHANGEID WINDOW AREAS
expect_areas() {
    local code
    code=$(qcda "$2" "$KEY" "$3" "$4")
    if [ "$code" != 200 ]; then
        fail "$1: HTTP $code, fault $(fault_type)"
        return
    fi
    check "$1: window (startOffset+length)" "$5" "$(window)"
    check "$1: changedArea" "$6" "$(areas)"
}

# expect_fault NAME FAULTTYPE SNAPSHOT DEVICEKEY STARTOFFSET CHANGEID
expect_fault() {
    local code
    code=$(qcda "$3" "$4" "$5" "$6")
    check "$1: HTTP status" 500 "$code"
    check "$1: fault" "$2" "$(fault_type)"
}

# task_wait TASK: polls TaskInfo until success/error; sets TASK_STATE and
# TASK_RESULT (the result moref value, if any).
task_wait() {
    local i body
    body="<RetrieveProperties xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet><objectSet><obj type=\"Task\">$(xml_escape "$1")</obj></objectSet></specSet></RetrieveProperties>"
    TASK_STATE="" TASK_RESULT=""
    for ((i = 0; i < 100; i++)); do
        soap "$body" >/dev/null
        TASK_STATE=$(grep -o '<state>[a-z]*</state>' "$RESP" | head -n1 | sed 's#</\{0,1\}state>##g' || true)
        case $TASK_STATE in success | error) break ;; esac
        sleep 0.1
    done
    TASK_RESULT=$(grep -o '<result [^>]*>[^<]*</result>' "$RESP" | sed 's#.*>\([^<]*\)</result>#\1#' || true)
}

task_of_response() {
    grep -o '<returnval type="Task">[^<]*' "$RESP" | sed 's/.*>//' || true
}

reconfig_cbt() {   # reconfig_cbt true|false -> prints the task state
    soap "<ReconfigVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$(xml_escape "$VM")</_this><spec><changeTrackingEnabled>$1</changeTrackingEnabled></spec></ReconfigVM_Task>" >/dev/null
    task_wait "$(task_of_response)"
    printf '%s\n' "$TASK_STATE"
}

snapshot_soap() {  # snapshot_soap NAME -> prints the snapshot moref value
    soap "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$(xml_escape "$VM")</_this><name>$(xml_escape "$1")</name><memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>" >/dev/null
    task_wait "$(task_of_response)"
    [ "$TASK_STATE" = success ] && [ -n "$TASK_RESULT" ] || return 1
    printf '%s\n' "$TASK_RESULT"
}

# change_id SNAPSHOT: backing.changeId of the disk $KEY in the snapshot's
# config, read by RetrievePropertiesEx as a client would.
change_id() {
    soap "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>VirtualMachineSnapshot</type><pathSet>config.hardware.device</pathSet></propSet><objectSet><obj type=\"VirtualMachineSnapshot\">$(xml_escape "$1")</obj></objectSet></specSet><options/></RetrievePropertiesEx>" >/dev/null
    # One device per <VirtualDevice ...>...</VirtualDevice>; keep the one with our key.
    sed 's#<VirtualDevice #\n<VirtualDevice #g' "$RESP" | grep "^<VirtualDevice [^>]*><key>$KEY</key>" |
        grep -o '<changeId>[^<]*</changeId>' | sed 's#</\{0,1\}changeId>##g' | head -n1 || true
}

upload_put() {   # upload_put LOCALFILE DATASTOREPATH -> HTTP status (PUT /folder)
    curl -sk --max-time 60 -o /dev/null -w '%{http_code}' -T "$1" -- \
        "${VMMK_VCSIM_URL%/sdk}/folder/$2?dcPath=DC0&dsName=LocalDS_0"
}

# fill FILE BLOCK COUNT PATTERN: writes COUNT 64 KiB blocks of PATTERN at BLOCK.
fill() {
    { yes -- "$4" || :; } | head -c $(($3 * BS)) | dd of="$1" bs="$BS" seek="$2" conv=notrunc status=none
}

# ---------------------------------------------------------------------------
t0=$(now)
if BINDIR=$("$VCSIM_SH" build 2>"$WORK/build.log"); then
    pass "build ($(elapsed "$t0")): $BINDIR"
else
    cat -- "$WORK/build.log" >&2
    die "build"
fi

t0=$(now)
if ! read -r PID URL < <("$VCSIM_SH" start 2>"$WORK/start.log"); then
    cat -- "$WORK/start.log" >&2
    die "start"
fi
[ -n "${URL:-}" ] || { cat -- "$WORK/start.log" >&2; die "start printed no URL"; }
pass "start ($(elapsed "$t0")): PID $PID at $URL"
eval "$("$VCSIM_SH" env)"
check "env: URL matches start" "$URL" "$VMMK_VCSIM_URL"
check "env: GOVC_PERSIST_SESSION" false "$GOVC_PERSIST_SESSION"
GOVC=$VMMK_GOVC

# --- fixture through govc (an independent client) ---------------------------
VM=$("$GOVC" ls -i /DC0/vm/DC0_H0_VM0 | sed -n 's/^VirtualMachine://p')
[ -n "$VM" ] || die "govc: DC0_H0_VM0 not found"
pass "govc: DC0_H0_VM0 is $VM"
KEY=$("$GOVC" device.info -vm DC0_H0_VM0 'disk-*' | awk '$1 == "Key:" { print $2; exit }')
DISKFILE=$("$GOVC" device.info -vm DC0_H0_VM0 'disk-*' | sed -n 's/^ *File: *//p' | head -n1)
[ -n "$KEY" ] || die "govc: no disk on $VM"
check "govc: disk file" "[LocalDS_0] DC0_H0_VM0/disk1.vmdk" "$DISKFILE"
FLAT=DC0_H0_VM0/disk1-flat.vmdk

"$GOVC" vm.disk.change -vm DC0_H0_VM0 -disk.key "$KEY" -size 64M >/dev/null
CAP=$((64 * MIB))
check "govc: disk grown to 64 MiB" "65,536 KB" \
    "$("$GOVC" device.info -vm DC0_H0_VM0 'disk-*' | sed -n 's/^ *Summary: *//p' | head -n1)"
DSDIR=$("$GOVC" datastore.info LocalDS_0 | awk '$1 == "URL:" { print $2 }')

reached fixture

# --- SOAP session -------------------------------------------------------------
code=$(soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$(xml_escape "$VMMK_VCSIM_USER")</userName><password>$(xml_escape "$VMMK_VCSIM_PASSWORD")</password></Login>")
check "SOAP Login" 200 "$code"

# CBT still off: FileFault.
expect_fault "QCDA with CBT off" FileFault "" "$KEY" 0 '*'
S0=$("$GOVC" snapshot.create -vm DC0_H0_VM0 cbt-off >/dev/null &&
     "$GOVC" snapshot.tree -vm DC0_H0_VM0 -i | sed -n 's/^\[\(snapshot-[0-9]*\)\] *cbt-off$/\1/p')
[ -n "$S0" ] || die "govc snapshot.create cbt-off"

check "ReconfigVM_Task changeTrackingEnabled=true" success "$(reconfig_cbt true)"
check "govc: config.changeTrackingEnabled" true \
    "$("$GOVC" object.collect -s "VirtualMachine:$VM" config.changeTrackingEnabled)"
expect_fault "QCDA at a snapshot taken while CBT was off" FileFault "$S0" "$KEY" 0 '*'

reached cbt-off

# --- disk content A: data in block 0 and in blocks 100-101 --------------------
truncate -s $((102 * BS)) "$WORK/A"
fill "$WORK/A" 0 1 "libvmmk block zero"
fill "$WORK/A" 100 2 "second extent"
"$GOVC" datastore.upload -ds LocalDS_0 "$WORK/A" "$FLAT" >/dev/null 2>&1
check "govc datastore.upload of flat file A" "$(sha256sum <"$WORK/A")" "$(sha256sum <"$DSDIR/$FLAT")"

"$GOVC" snapshot.create -vm DC0_H0_VM0 A >/dev/null
SA=$("$GOVC" snapshot.tree -vm DC0_H0_VM0 -i | sed -n 's/^ *\[\(snapshot-[0-9]*\)\] *A$/\1/p')
[ -n "$SA" ] || die "govc snapshot.create A"
IDA=$(change_id "$SA")
if [ -n "$IDA" ]; then pass "changeId of A from snapshot config: $IDA"; else fail "no backing.changeId in $SA config"; fi
check "govc: same changeId via object.collect" "$IDA" \
    "$("$GOVC" object.collect -json "VirtualMachineSnapshot:$SA" config.hardware.device |
        grep -o '"ChangeId": *"[^"]\{1,\}"' | head -n1 | sed 's/"ChangeId": *"\(.*\)"/\1/')"

# --- disk content B: block 5 written, block 101 changed, block 700 appended ---
cp -- "$WORK/A" "$WORK/B"
fill "$WORK/B" 5 1 "new data in block five"
printf 'x' | dd of="$WORK/B" bs=1 seek=$((101 * BS + 4242)) conv=notrunc status=none
fill "$WORK/B" 700 1 "past the old end of the flat file"
check "PUT /folder of flat file B" 200 "$(upload_put "$WORK/B" "$FLAT")"
"$GOVC" datastore.download -ds LocalDS_0 "$FLAT" "$WORK/B.check" >/dev/null 2>&1
check "govc datastore.download returns B" "$(sha256sum <"$WORK/B")" "$(sha256sum <"$WORK/B.check")"

SB=$(snapshot_soap B) || die "CreateSnapshot_Task B"
pass "CreateSnapshot_Task B: $SB"
IDB=$(change_id "$SB")
if [ -n "$IDB" ] && [ "$IDB" != "$IDA" ]; then pass "changeId of B: $IDB"; else fail "changeId of B: [$IDB]"; fi

# --- QueryChangedDiskAreas ------------------------------------------------------
expect_areas "QCDA(B, *)" "$SB" 0 '*' "0+$CAP" \
    "0+$BS $((5 * BS))+$BS $((100 * BS))+$((2 * BS)) $((700 * BS))+$BS"
expect_areas "QCDA(A, *)" "$SA" 0 '*' "0+$CAP" "0+$BS $((100 * BS))+$((2 * BS))"
expect_areas "QCDA(B, changeId A)" "$SB" 0 "$IDA" "0+$CAP" \
    "$((5 * BS))+$BS $((101 * BS))+$BS $((700 * BS))+$BS"
expect_areas "QCDA(A, changeId A): nothing changed" "$SA" 0 "$IDA" "0+$CAP" ""
expect_areas "QCDA(B, changeId B): nothing changed" "$SB" 0 "$IDB" "0+$CAP" ""
OFF=$((100 * BS + 100))
expect_areas "QCDA(B, *) from an unaligned startOffset" "$SB" "$OFF" '*' "$OFF+$((CAP - OFF))" \
    "$OFF+$((2 * BS - 100)) $((700 * BS))+$BS"
expect_areas "QCDA(B, changeId A) from the last block" "$SB" $((CAP - BS)) "$IDA" \
    "$((CAP - BS))+$BS" ""

reached qcda

# --- faults -----------------------------------------------------------------------
expect_fault "QCDA unknown deviceKey" InvalidArgument "$SB" 4242 0 '*'
expect_fault "QCDA startOffset = capacity" InvalidArgument "$SB" "$KEY" "$CAP" '*'
expect_fault "QCDA negative startOffset" InvalidArgument "$SB" "$KEY" -1 '*'
expect_fault "QCDA malformed changeId" InvalidArgument "$SB" "$KEY" 0 'not-a-change-id'
expect_fault "QCDA unknown changeId" FileFault "$SB" "$KEY" 0 "vmmk-cbt:snapshot-99999:$KEY"
expect_fault "QCDA missing snapshot" ManagedObjectNotFound "snapshot-99999" "$KEY" 0 '*'

# Change ids outlive their snapshot (incremental backup: remove A, query since A).
"$GOVC" snapshot.remove -vm DC0_H0_VM0 A >/dev/null
check "govc: snapshot A removed" "" "$("$GOVC" snapshot.tree -vm DC0_H0_VM0 -i | grep -F "[$SA]" || true)"
expect_areas "QCDA(B, changeId A) after removing A" "$SB" 0 "$IDA" "0+$CAP" \
    "$((5 * BS))+$BS $((101 * BS))+$BS $((700 * BS))+$BS"

# CBT reset: switching tracking off invalidates earlier change ids.
check "ReconfigVM_Task changeTrackingEnabled=false" success "$(reconfig_cbt false)"
expect_fault "QCDA(B, changeId A) with CBT off" FileFault "$SB" "$KEY" 0 "$IDA"
check "ReconfigVM_Task changeTrackingEnabled=true again" success "$(reconfig_cbt true)"
expect_fault "QCDA(B, changeId A) after a CBT reset" FileFault "$SB" "$KEY" 0 "$IDA"
SC=$(snapshot_soap C) || die "CreateSnapshot_Task C"
expect_areas "QCDA(C, *) after the reset" "$SC" 0 '*' "0+$CAP" \
    "0+$BS $((5 * BS))+$BS $((100 * BS))+$((2 * BS)) $((700 * BS))+$BS"
IDC=$(change_id "$SC")
expect_areas "QCDA(C, changeId C)" "$SC" 0 "$IDC" "0+$CAP" ""
# Off and on again with no query in between: the reset must be noticed from
# the reconfigure tasks themselves.
check "ReconfigVM_Task changeTrackingEnabled=false (2)" success "$(reconfig_cbt false)"
check "ReconfigVM_Task changeTrackingEnabled=true (2)" success "$(reconfig_cbt true)"
SD=$(snapshot_soap D) || die "CreateSnapshot_Task D"
expect_fault "QCDA(D, changeId C) after an unqueried CBT reset" FileFault "$SD" "$KEY" 0 "$IDC"
expect_areas "QCDA(D, *)" "$SD" 0 '*' "0+$CAP" \
    "0+$BS $((5 * BS))+$BS $((100 * BS))+$((2 * BS)) $((700 * BS))+$BS"

reached faults

# --- stop ------------------------------------------------------------------------
"$VCSIM_SH" stop 2>/dev/null
if kill -0 "$PID" 2>/dev/null; then fail "stop: PID $PID still running"; else pass "stop: PID $PID gone"; fi
if [ -n "$DSDIR" ] && [ -e "$DSDIR" ]; then fail "stop: $DSDIR left behind"; else pass "stop: datastore dir removed"; fi

reached stop

# --- bounded window: VMMK_CBT_MAX_SPAN in vcsim's environment ------------------------
SPAN=$((16 * MIB))
if read -r PID URL < <(VMMK_CBT_MAX_SPAN=$SPAN "$VCSIM_SH" start 2>"$WORK/start.log"); then
    eval "$("$VCSIM_SH" env)"
    rm -f -- "$CJ"
    soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$(xml_escape "$VMMK_VCSIM_USER")</userName><password>$(xml_escape "$VMMK_VCSIM_PASSWORD")</password></Login>" >/dev/null
    "$GOVC" vm.disk.change -vm DC0_H0_VM0 -disk.key "$KEY" -size 64M >/dev/null
    reconfig_cbt true >/dev/null
    check "PUT /folder of flat file B (second instance)" 200 "$(upload_put "$WORK/B" "$FLAT")"
    SB=$(snapshot_soap B) || die "CreateSnapshot_Task B (second instance)"
    # Loop as a client must: next startOffset = startOffset + length.
    off=0 calls=0 all="" a=""
    while [ "$off" -lt "$CAP" ] && [ "$calls" -lt 100 ]; do
        code=$(qcda "$SB" "$KEY" "$off" '*')
        [ "$code" = 200 ] || { fail "windowed QCDA at $off: HTTP $code $(fault_type)"; break; }
        w=$(window)
        if [ "${w%+*}" != "$off" ] || [ "${w#*+}" -gt "$SPAN" ] || [ "${w#*+}" -le 0 ]; then
            fail "windowed QCDA at $off: window $w"
            break
        fi
        a=$(areas)
        [ -z "$a" ] || all="${all:+$all }$a"
        off=$((off + ${w#*+}))
        calls=$((calls + 1))
    done
    check "windowed QCDA(B, *): number of calls" $((CAP / SPAN)) "$calls"
    check "windowed QCDA(B, *): union of areas" \
        "0+$BS $((5 * BS))+$BS $((100 * BS))+$((2 * BS)) $((700 * BS))+$BS" "$all"
    "$VCSIM_SH" stop 2>/dev/null
    if kill -0 "$PID" 2>/dev/null; then fail "stop: PID $PID still running"; else pass "stop (second instance)"; fi
    reached window
else
    cat -- "$WORK/start.log" >&2
    fail "start with VMMK_CBT_MAX_SPAN"
fi

check "every section ran" "fixture cbt-off qcda faults stop window" "$REACHED"

printf '%d passed, %d failed\n' "$PASSES" "$FAILS"
if [ "$FAILS" -ne 0 ]; then exit 1; fi
