#!/usr/bin/env bash
# The mlvm command's surface: help, version, verb help, usage errors and exit
# codes; and what setup refuses before connecting (state directory, pool path).
. "$TOP_SRCDIR/tests/lib.sh"

out=$("$MLVM" --help); check_eq "--help exits 0" 0 $?
check_match "--help lists verbs" '^  info ' "$out"
out=$("$MLVM" --version); check_match "--version prints the version" '^mlvm [0-9]+\.[0-9]+\.[0-9]+$' "$out"
"$MLVM" >/dev/null 2>&1; check_eq "no verb is a usage error (2)" 2 $?

for verb in config info setup; do
        out=$("$MLVM" "$verb" --help); check_eq "$verb --help exits 0" 0 $?
        check_match "$verb --help shows its usage" "^Usage: mlvm $verb" "$out"
        out=$("$MLVM" help "$verb"); check_match "help $verb shows its usage" "^Usage: mlvm $verb" "$out"
        err=$("$MLVM" "$verb" --no-such-option 2>&1 >/dev/null); st=$?
        check_eq "$verb: unknown option exits 2" 2 $st
        check_eq "$verb: unknown option is one line" "mlvm: $verb: unknown option --no-such-option (see 'mlvm $verb --help')" "$err"
done

# Every verb's own options are told apart from the global ones: a verb's
# --publish once had --progress's value and was taken for it.
verbs=$("$MLVM" --help | awk '/^Verbs:/{v=1;next} v&&/^  [a-z]/{print $1}')
check_match "--help lists up among the verbs" '(^| )up( |$)' "$(echo $verbs)"
for verb in $verbs; do
        err=$("$MLVM" "$verb" --help 2>&1 >/dev/null); st=$?
        check_eq "$verb --help: its options clash with no global one" "0 " "$st $err"
done
err=$("$MLVM" up --publish nonsense 2>&1); st=$?
check_eq "up --publish is up's own option" "2 mlvm: up: --publish nonsense: expected [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT (see 'mlvm up --help')" "$st $err"
err=$("$MLVM" up --progress=nonsense 2>&1); st=$?
check_eq "up --progress is the global option" "2 mlvm: up: --progress: \"nonsense\" is not auto, plain or none (see 'mlvm up --help')" "$st $err"

err=$("$MLVM" frobnicate 2>&1); st=$?
check_eq "unknown verb exits 2" 2 $st
check_eq "unknown verb message" "mlvm: frobnicate: unknown verb (see 'mlvm --help')" "$err"
err=$("$MLVM" help frobnicate 2>&1); check_eq "help for an unknown verb exits 2" 2 $?
err=$("$MLVM" --connect 2>&1); st=$?
check_eq "--connect without a value exits 2" 2 $st
check_eq "missing value message" "mlvm: option --connect needs a value (see 'mlvm --help')" "$err"
err=$("$MLVM" info extra 2>&1); st=$?
check_eq "stray operand exits 2" 2 $st
check_match "stray operand named" "^mlvm: info: unexpected argument 'extra'" "$err"
# Global options work after the verb too.
out=$("$MLVM" config -f "$TOP_SRCDIR/examples/mlvm.yaml" check); check_eq "global -f after the verb" 0 $?
for verb in config info setup; do
        out=$("$MLVM" "$verb" --version); check_eq "$verb --version exits 0" 0 $?
        check_match "$verb --version prints the version" '^mlvm [0-9]+\.[0-9]+\.[0-9]+$' "$out"
done
out=$("$MLVM" info -V); check_match "info -V prints the version" '^mlvm [0-9]+\.[0-9]+\.[0-9]+$' "$out"

# A value given to an option that takes none is named as such (not "unknown option -J").
err=$("$MLVM" --json=1 info 2>&1); st=$?
check_eq "--json=1 before the verb exits 2" 2 $st
check_eq "--json=1 before the verb" "mlvm: option --json takes no value (see 'mlvm --help')" "$err"
err=$("$MLVM" --help=x 2>&1); st=$?
check_eq "--help=x exits 2" 2 $st
check_eq "--help=x" "mlvm: option --help takes no value (see 'mlvm --help')" "$err"
err=$("$MLVM" info --json=1 2>&1); st=$?
check_eq "info --json=1 exits 2" 2 $st
check_eq "info --json=1" "mlvm: info: option --json takes no value (see 'mlvm info --help')" "$err"
err=$("$MLVM" config --help=x 2>&1)
check_eq "config --help=x" "mlvm: config: option --help takes no value (see 'mlvm config --help')" "$err"
err=$("$MLVM" info --refresh=yes 2>&1)
check_eq "a verb's own option: info --refresh=yes" "mlvm: info: option --refresh takes no value (see 'mlvm info --help')" "$err"
err=$("$MLVM" info -J 2>&1)
check_eq "an unknown short option is still unknown" "mlvm: info: unknown option -J (see 'mlvm info --help')" "$err"

# What setup refuses before it connects anywhere (test:///default, in case
# it does connect: libvirt's in-process test driver, no real pool).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_CONNECT=test:///default MLVM_POOL=mlvm-help-test
mkdir "$tmp/open" && chmod 1777 "$tmp/open"
err=$(MLVM_STATE_DIR="$tmp/open" "$MLVM" setup 2>&1); st=$?
check_eq "setup: a 1777 state directory exits 1" 1 $st
check_eq "setup: a 1777 state directory: one line with the fix" \
        "mlvm: setup: state directory $tmp/open has mode 1777: group and others can reach it; run 'chmod 700 $tmp/open'" "$err"
check_eq "setup: the state directory's mode is left alone" 1777 "$(stat -c %a "$tmp/open")"
mkdir -m 700 "$tmp/real" && ln -s "$tmp/real" "$tmp/link"
err=$(MLVM_STATE_DIR="$tmp/link/" "$MLVM" setup 2>&1)
check_eq "setup: a symlinked state directory is refused" \
        "mlvm: setup: state directory $tmp/link is a symbolic link; point MLVM_STATE_DIR at the directory itself" "$err"
if [ "$(id -u)" -eq 0 ]; then
        mkdir -m 700 "$tmp/theirs" && chown 65534 "$tmp/theirs"
        err=$(MLVM_STATE_DIR="$tmp/theirs" "$MLVM" setup 2>&1)
        check_match "setup: a state directory owned by someone else is refused" \
                "^mlvm: setup: state directory $tmp/theirs is owned by uid 65534, not by this user \(uid 0\)" "$err"
fi
err=$(env -u MLVM_POOL_PATH MLVM_STATE_DIR="$tmp/state" "$MLVM" --connect qemu+ssh://nohost.invalid/session setup 2>&1)
st=$?
check_eq "setup: a remote session without MLVM_POOL_PATH exits 1" 1 $st
check_eq "setup: a remote session needs MLVM_POOL_PATH" \
        "mlvm: setup: qemu+ssh://nohost.invalid/session is a remote session: set MLVM_POOL_PATH to a directory on that host for the storage pool" "$err"

done_testing
