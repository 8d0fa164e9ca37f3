# tests/lib.sh: TAP helpers for the shell tests. Source it, call the check
# functions, end with done_testing. Requirements that are missing skip the
# whole file with a reason, except under CI=true where that is a failure.
set -u

: "${MLVM:?MLVM must point at the built mlvm binary}"
: "${TOP_SRCDIR:?TOP_SRCDIR must be set}"
_n=0
_failed=0

pass() { _n=$((_n + 1)); echo "ok $_n - $1"; }
fail() {
        _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $1"; shift
        for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}

# check DESC CMD...: passes when CMD exits 0.
check() {
        local desc=$1; shift
        local out
        if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "command: $*" "$out"; fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# check_match DESC REGEX TEXT
check_match() {
        if printf '%s\n' "$3" | grep -qE -- "$2"; then pass "$1"; else fail "$1" "no match for: $2" "in: $3"; fi
}

# check_contains DESC FIXED-STRING TEXT
check_contains() {
        case "$3" in *"$2"*) pass "$1" ;; *) fail "$1" "missing: $2" "in: $3" ;; esac
}

skip_all() {
        if [ "${CI:-}" = true ]; then
                echo "not ok 1 - required under CI=true but cannot run: $1"
                echo "1..1"
                exit 1
        fi
        echo "1..0 # SKIP $1"
        exit 0
}

require_root_libvirt() {
        [ "$(id -u)" -eq 0 ] || skip_all "needs root (run scripts/test as root)"
        command -v virsh >/dev/null || skip_all "virsh not installed (run scripts/setup)"
        timeout 20 virsh -q -c qemu:///system version >/dev/null 2>&1 ||
                skip_all "libvirtd is not running on qemu:///system (run scripts/setup)"
}

# json_get FILE EXPR: evaluate a Python expression over the parsed JSON 'j'.
json_get() {
        "${PYTHON3:-python3}" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() { "${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

done_testing() {
        echo "1..$_n"
        [ "$_failed" -eq 0 ]
}

# Start `up NAME` in the background with the test hook stopping it after
# PHASE (MLVM_TEST_PAUSE_AT); wait (up to 5 min) until it is stopped or
# gone. Sets upid and up_state (T when stopped where asked).
up_stopped_at() {
        local phase=$1 name=$2
        MLVM_TEST_PAUSE_AT=$phase "$MLVM" up "$name" >"$tmp/up.out" 2>"$tmp/up.err" &
        upid=$!
        up_state=""
        for _ in $(seq 1 1500); do
                up_state=$(awk '{print $3}' "/proc/$upid/stat" 2>/dev/null)
                [ "$up_state" = T ] || [ -z "$up_state" ] && break
                sleep 0.2
        done
}

# Every running domain of this test (its XML names $tmp, on $V's libvirt):
# its QEMU runs as a uid of its own (not root, not another's) under
# seccomp (Seccomp: 2), read from /proc. After a fault, what survived must
# still be sandboxed (issue 16). Passes with the count; fails naming each.
survivors_sandboxed() {
        local desc=$1 d qpid uid sc bad="" uids="" n=0
        for d in $($V list --name 2>/dev/null | grep '^mlvm-'); do
                $V dumpxml "$d" 2>/dev/null | grep -q "$tmp" || continue
                n=$((n + 1))
                qpid=$(pgrep -f -- "-name guest=$d," | head -n 1)
                uid=$(awk '/^Uid:/ {print $2}' "/proc/${qpid:-0}/status" 2>/dev/null)
                sc=$(awk '/^Seccomp:/ {print $2}' "/proc/${qpid:-0}/status" 2>/dev/null)
                [ -n "$uid" ] && [ "$uid" != 0 ] || bad="$bad $d:uid=${uid:-none}"
                [ "$sc" = 2 ] || bad="$bad $d:seccomp=${sc:-none}"
                uids="$uids $uid"
        done
        local dup
        dup=$(printf '%s\n' $uids | sort | uniq -d)
        [ -n "$dup" ] && bad="$bad shared-uid:$(echo $dup)"
        if [ -z "$bad" ]; then pass "$desc: each of the $n running QEMUs has a uid of its own and Seccomp 2"
        else fail "$desc: each running QEMU has a uid of its own and Seccomp 2" "$bad"; fi
}
