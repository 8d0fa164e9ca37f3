#!/usr/bin/env bash
# The mlvm command's surface: help, version, verb help, usage errors and exit codes.
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

done_testing
