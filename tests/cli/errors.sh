#!/usr/bin/env bash
# Honest exit codes and machine-readable errors: a mistake never exits 0;
# with --json an error is {"error":{"code":...,"message":...}} on stderr; an
# empty listing is []; a typo writes nothing to the audit log; mlvm version;
# did-you-mean for verbs and mlvm.yaml keys. Run records are made here by
# hand (as src/lib/run/run.h lays them out) on libvirt's in-process test
# driver, so nothing here needs libvirtd.
. "$TOP_SRCDIR/tests/lib.sh"

command -v "${PYTHON3:-python3}" >/dev/null || skip_all "python3 is not installed"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state" MLVM_CONNECT=test:///default
unset MLVM_POOL MLVM_POOL_PATH
audit="$MLVM_STATE_DIR/audit.log"

# --- down: a name never seen is an error; a run that ended is no event
err=$("$MLVM" down never-existed 2>&1); st=$?
check_eq "down of a name never seen exits 1" 1 $st
check_eq "down of a name never seen: one line naming it" \
        "mlvm: down: never-existed: no such run or name (see mlvm ps --all)" "$err"
err=$("$MLVM" down never-existed --json 2>&1 >/dev/null); st=$?
check_eq "down --json of a name never seen exits 1" 1 $st
check_eq "down --json: the error as JSON on stderr" \
        '{"error":{"code":"not-found","message":"never-existed: no such run or name (see mlvm ps --all)"}}' "$err"

id=1a2b3c4d
mkdir -p "$MLVM_STATE_DIR/runs/$id" "$MLVM_STATE_DIR/names"
printf '{"id": "%s", "name": "ended", "state": "stopped", "created_at": 1700000000, "uri": "test:///default", "pool": "default-pool", "domain": "mlvm-ended"}\n' \
        "$id" > "$MLVM_STATE_DIR/runs/$id/run.json"
out=$("$MLVM" down ended 2>&1); st=$?
check_eq "down of a name whose run ended exits 0 (idempotent)" 0 $st
check_eq "and says it is not running" "ended: not running (last run $id)" "$out"
out=$("$MLVM" down "$id" 2>&1); st=$?
check_eq "down RUN of a stopped run exits 0" 0 $st
check_match "and cleans up" "^$id: run $id cleaned up in " "$out"
check_eq "neither down wrote to the audit log" "no audit log" "$([ -e "$audit" ] && cat "$audit" || echo "no audit log")"

# --- a mistyped image is not a security event
err=$("$MLVM" image verify nosuch 2>&1); st=$?
check_eq "image verify of a missing image exits 1" 1 $st
check_eq "image verify of a missing image: one line" \
        "mlvm: image: image nosuch:latest: no such tag in the store (see mlvm image ls)" "$err"
check_eq "and writes nothing to the audit log" "no audit log" "$([ -e "$audit" ] && cat "$audit" || echo "no audit log")"
err=$("$MLVM" --json image verify nosuch 2>&1 >/dev/null)
check_eq "image verify --json: not-found" not-found \
        "$(printf '%s' "$err" | "${PYTHON3:-python3}" -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])')"

# --- a URI that is not one is not a daemon that is down
err=$("$MLVM" -c bogus://x ps 2>&1); st=$?
check_eq "ps with an unsupported URI exits 1" 1 $st
check_eq "ps with an unsupported URI: one line naming it" \
        'mlvm: ps: connect bogus://x: unsupported driver "bogus": mlvm runs QEMU guests (qemu:///system, qemu+ssh://HOST/system)' "$err"
err=$("$MLVM" -c bogus://x ps --json 2>&1); st=$?
check_eq "ps --json with an unsupported URI exits 1" 1 $st
check_match "ps --json: code unsupported, nothing on stdout" '^\{"error":\{"code":"unsupported","message":"connect bogus://x: ' "$err"
err=$("$MLVM" -c 'not a uri' info 2>&1); st=$?
check_eq "info with a malformed URI exits 1" 1 $st
check_match "info with a malformed URI says so, not 'libvirtd is not running'" \
        "^mlvm: info: connect not a uri: not a libvirt URI: expected" "$err"
err=$("$MLVM" -c 'not a uri' --json info 2>&1 >/dev/null)
check_match "info --json with a malformed URI: code invalid" '^\{"error":\{"code":"invalid",' "$err"

# --- JSON errors: one object on stderr, nothing on stdout; text unchanged without --json
out=$("$MLVM" ps --no-such --json 2>"$tmp/err"); st=$?
check_eq "a usage error with --json exits 2" 2 $st
check_eq "a usage error with --json prints nothing on stdout" "" "$out"
check_eq "a usage error with --json: code usage" \
        '{"error":{"code":"usage","message":"unknown option --no-such (see '"'"'mlvm ps --help'"'"')"}}' "$(cat "$tmp/err")"
err=$("$MLVM" ps --no-such 2>&1)
check_eq "the same without --json is the usual line" "mlvm: ps: unknown option --no-such (see 'mlvm ps --help')" "$err"
out=$("$MLVM" ps --json); st=$?
check_eq "ps --json with no runs exits 0" 0 $st
check_eq "ps --json with no runs is []" "[]" "$out"

# --- key export: the user's name, not our path
err=$("$MLVM" key export nosuch 2>&1); st=$?
check_eq "key export of a missing key exits 1" 1 $st
check_eq "key export of a missing key: no internal path" "mlvm: key: key nosuch: no such key (see mlvm key ls)" "$err"

# --- config check refuses what up would refuse
printf 'models:\n  a:\n    image: minimal\n    transport: vsock\n' > "$tmp/vsock.yaml"
err=$("$MLVM" config check -f "$tmp/vsock.yaml" 2>&1); st=$?
check_eq "config check of transport: vsock exits 1" 1 $st
check_eq "config check of transport: vsock: up's own message" \
        "mlvm: config: $tmp/vsock.yaml:4:5: models.a.transport: vsock is not supported yet; use auto or virtio-serial" "$err"
"$MLVM" config -f "$tmp/vsock.yaml" >/dev/null; check_eq "config (no check) still prints it normalized" 0 $?

# --- did you mean
err=$("$MLVM" lgos x 2>&1); st=$?
check_eq "a mistyped verb exits 2" 2 $st
check_eq "a mistyped verb: did you mean" "mlvm: lgos: unknown verb (did you mean 'logs'?) (see 'mlvm --help')" "$err"
err=$("$MLVM" help verison 2>&1); st=$?
check_eq "help of a mistyped verb exits 2" 2 $st
check_eq "help of a mistyped verb: did you mean" "mlvm: verison: unknown verb (did you mean 'version'?) (see 'mlvm --help')" "$err"
err=$("$MLVM" --json lgos 2>&1)
check_eq "a mistyped verb, --json: names it" \
        '{"error":{"code":"usage","message":"unknown verb '"'"'lgos'"'"' (did you mean '"'"'logs'"'"'?) (see '"'"'mlvm --help'"'"')"}}' "$err"
printf 'models:\n  a:\n    image: minimal\n    memroy: 1G\n' > "$tmp/typo.yaml"
err=$("$MLVM" config check -f "$tmp/typo.yaml" 2>&1); st=$?
check_eq "a mistyped key exits 1" 1 $st
check_eq "a mistyped key: did you mean" "mlvm: config: $tmp/typo.yaml:4:5: models.a.memroy: unknown key (did you mean memory?)" "$err"
printf 'modles:\n  a:\n    image: minimal\n' > "$tmp/typo2.yaml"
err=$("$MLVM" config check -f "$tmp/typo2.yaml" 2>&1)
check_eq "a mistyped top-level key: did you mean" "mlvm: config: $tmp/typo2.yaml:1:1: modles: unknown key (did you mean models?)" "$err"

printf 'models:\n  model-a:\n    image: minimal\nexperiments:\n  exp-1:\n    image: minimal\n' > "$tmp/names.yaml"
err=$("$MLVM" up -f "$tmp/names.yaml" modle-a 2>&1); st=$?
check_eq "up of a name not in the file exits 1" 1 $st
check_eq "up of a mistyped name: did you mean" "mlvm: up: $tmp/names.yaml: no model or experiment modle-a (did you mean model-a?)" "$err"
err=$("$MLVM" run -f "$tmp/names.yaml" --json nothing-like-it 2>&1 >/dev/null); st=$?
check_eq "run of a name not in the file exits 125" 125 $st
check_eq "run --json of a name not in the file: not-found" \
        "{\"error\":{\"code\":\"not-found\",\"message\":\"$tmp/names.yaml: no model or experiment nothing-like-it\"}}" "$err"

# --- logs -f after the verb is --follow, and a stray FILE says so
err=$("$MLVM" logs ended -f mlvm.yaml 2>&1); st=$?
check_eq "logs RUN -f FILE exits 2" 2 $st
check_eq "logs RUN -f FILE: says what -f meant" \
        "mlvm: logs: unexpected argument 'mlvm.yaml' (-f is --follow here; the global option is --file FILE) (see 'mlvm logs --help')" "$err"
check_match "logs --help says -f is --follow after the verb" 'always --follow, never the global -f FILE' "$("$MLVM" logs --help)"

# --- version and help
out=$("$MLVM" version); st=$?
check_eq "version exits 0" 0 $st
check_match "version names mlvm" '^mlvm: +[0-9]+\.[0-9]+\.[0-9]+$' "$out"
check_match "version names the agent protocol" '^agent protocol: +1$' "$out"
check_match "version names libvirt's daemon on test:///default" '^libvirt daemon: +[0-9]+\.[0-9]+\.[0-9]+ \(test:///default\)$' "$out"
"$MLVM" version --json > "$tmp/v.json"; check_eq "version --json exits 0" 0 $?
check_eq "version --json: mlvm, libvirt client and daemon, qemu (none on the test driver), protocol" \
        "True True True None 1" \
        "$(json_get "$tmp/v.json" '" ".join(str(x) for x in [j["mlvm"][0].isdigit(), j["libvirt"]["client"][0].isdigit(), j["libvirt"]["daemon"][0].isdigit(), j["qemu"], j["agent_protocol"]])')"
"$MLVM" --version --json > "$tmp/v2.json"; check_eq "--version --json is version --json" 0 $?
check_eq "--version --json has the protocol" 1 "$(json_get "$tmp/v2.json" 'j["agent_protocol"]')"
# A daemon that cannot be reached is an answer, not a failure.
"$MLVM" -c qemu+tcp://127.0.0.1:1/system version --json > "$tmp/v3.json"; st=$?
check_eq "version with libvirtd unreachable exits 0" 0 $st
check_eq "version with libvirtd unreachable: daemon and qemu null, the reason given" "None None True" \
        "$(json_get "$tmp/v3.json" '" ".join(str(x) for x in [j["libvirt"]["daemon"], j["qemu"], "not reachable" in j["daemon_error"]])')"
err=$("$MLVM" -c bogus://x version 2>&1); st=$?
check_eq "version with a bad URI is a mistake (exit 1)" 1 $st
out=$("$MLVM" help --help); st=$?
check_eq "help --help exits 0" 0 $st
check_match "help --help shows help's usage" '^Usage: mlvm help \[VERB\]$' "$out"
out=$("$MLVM" help help); st=$?
check_eq "help help exits 0" 0 $st
check_match "help help shows help's usage" '^Usage: mlvm help \[VERB\]$' "$out"
check_match "mlvm --help lists version" '^  version ' "$("$MLVM" --help)"

done_testing
