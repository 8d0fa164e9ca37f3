#!/usr/bin/env bash
# Run housekeeping and listing on run records made here by hand (as
# src/lib/run/run.h lays them out), on libvirt's test driver, so nothing
# here needs libvirtd: rm refuses a live run and removes ended ones with
# their name and artifacts, in one audit event; prune --until picks by end
# time; ps --all shows when runs ended and their exit code; ps --filter
# and -q; logs --tail, --since and --timestamps on logs with and without
# their .times files; mlvm.yaml's retention applied by up and run.
. "$TOP_SRCDIR/tests/lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state" MLVM_CONNECT=test:///default
unset MLVM_POOL MLVM_POOL_PATH
st="$MLVM_STATE_DIR"
now=$(date +%s)

# record ID NAME STATE [EXTRA JSON MEMBERS]: created one second after the one before
n_rec=0
record() {
        n_rec=$((n_rec + 1))
        mkdir -p "$st/runs/$1" "$st/names"
        printf '{"id": "%s", "name": "%s", "state": "%s", "created_at": %s, "uri": "test:///default"%s}\n' \
                "$1" "$2" "$3" "$((now - 90000 + n_rec))" "${4:+, $4}" > "$st/runs/$1/run.json"
        printf '%s\n' "$1" > "$st/names/$2"
}
# A live run whose monitor is this very shell is not one: ps shows it
# "failed (monitor gone)", but its record says ready, and that is what rm refuses.
record aaaa0001 model-a ready '"ready_at": '"$((now - 60))"
record bbbb0002 exp-1 exited '"exited_at": '"$((now - 7200))"', "exit_code": 3'
record cccc0003 exp-2 failed '"failed_at": '"$((now - 120))"', "error": "boom"'
record dddd0004 exp-3 stopped '"stopped_at": '"$((now - 86400 * 3))"
record eeee0005 other exited '"exited_at": '"$((now - 7200))"
sed -i 's|test:///default|qemu:///system|' "$st/runs/eeee0005/run.json"   # another connection's
mkdir -p "$st/runs/bbbb0002/artifacts"; echo weights > "$st/runs/bbbb0002/artifacts/model.bin"
echo '{}' > "$st/runs/bbbb0002/provenance.json"

# --- ps --all: ENDED and EXIT
out=$("$MLVM" ps --all)
check_match "ps --all has ENDED and EXIT columns" "^NAME +RUN +STATE +UPTIME +ENDED +EXIT +ACCEL" "$out"
check_match "an exited run: when it ended and its exit code" "^exp-1 +bbbb0002 +exited +- +2\.0h ago +3 " "$out"
check_match "a stopped run three days ago" "^exp-3 +dddd0004 +stopped +- +3d ago +- " "$out"
check_match "a live run: no end" "^model-a +aaaa0001 +failed \(monitor gone\) +- +- +- " "$out"
check_eq "another connection's run is not listed" 0 "$(printf '%s\n' "$out" | grep -c eeee0005)"
out=$("$MLVM" ps --all --json)
check_contains "ps --json: ended_at and exit_code" '"exit_code": 3, "ended_at": "' "$(printf '%s' "$out" | tr -d '\n' | tr -s ' ')"
check_eq "ps without --all: the table has no ENDED column" 0 "$("$MLVM" ps | head -1 | grep -c ENDED)"

# --- ps --filter and -q
check_eq "ps -q --all: ids only" "aaaa0001 bbbb0002 cccc0003 dddd0004" "$("$MLVM" ps -q --all | tr '\n' ' ' | sed 's/ $//')"
check_eq "ps -q: live ids only" "aaaa0001" "$("$MLVM" ps -q)"
check_eq "--filter state=exited needs no --all" "bbbb0002" "$("$MLVM" ps -q --filter state=exited)"
check_eq "--filter state=ended (a run whose monitor is gone counts as failed)" "aaaa0001 bbbb0002 cccc0003 dddd0004" "$("$MLVM" ps -q --filter state=ended | tr '\n' ' ' | sed 's/ $//')"
check_eq "--filter state=failed matches a run whose monitor is gone" "aaaa0001 cccc0003" \
        "$("$MLVM" ps -q --filter state=failed | tr '\n' ' ' | sed 's/ $//')"
check_eq "--filter name=PATTERN,state=..." "cccc0003" "$("$MLVM" ps -q --filter 'name=exp-*,state=failed')"
check_eq "--filter twice: both apply" "dddd0004" "$("$MLVM" ps -q --all --filter name=exp-3 --filter state=ended)"
check_eq "--filter name without --all: live runs only" "" "$("$MLVM" ps -q --filter name=exp-1)"
check_eq "--filter that matches nothing, --json: []" "[]" "$("$MLVM" ps --json --filter state=starting)"
err=$("$MLVM" ps --filter state=runing 2>&1); rc=$?
check_eq "a bad --filter is a usage error" 2 $rc
check_eq "a bad --filter: one line naming it" \
        "mlvm: ps: --filter state=runing: unknown state (starting, ready, exited, failed, stopped, live, ended) (see 'mlvm ps --help')" "$err"
err=$("$MLVM" ps --filter color=red --json 2>&1 >/dev/null)
check_eq "a bad --filter with --json" \
        '{"error":{"code":"usage","message":"--filter color: unknown filter key (state, name) (see '"'"'mlvm ps --help'"'"')"}}' "$err"

# --- logs --tail, --since, --timestamps
d="$st/runs/bbbb0002"
printf 'one\ntwo\nthree\nfour\n' > "$d/output.log"
# Chunks: "one\ntwo\n" two hours ago, "three\nfour\n" one minute ago (offsets 0 and 8).
printf '0 %s.250\n8 %s.5\n' "$((now - 7200))" "$((now - 60))" > "$d/output.log.times"
printf 'boot\nconsole line\n' > "$d/console.log"   # no .times: written before mlvm recorded them
check_eq "logs --output --tail 2" "three
four" "$("$MLVM" logs exp-1 --output --tail 2)"
check_eq "logs --tail 0 prints nothing" "" "$("$MLVM" logs exp-1 --output -n 0)"
check_eq "logs --tail counts each log" "console line
four" "$("$MLVM" logs exp-1 --tail 1)"
check_eq "logs --since 10m: the lines of the recent chunk" "three
four" "$("$MLVM" logs exp-1 --output --since 10m)"
t_old=$(date -u -d "@$((now - 7200))" +%Y-%m-%dT%H:%M:%S).250Z
t_new=$(date -u -d "@$((now - 60))" +%Y-%m-%dT%H:%M:%S).500Z
check_eq "logs --timestamps: each line after its chunk's time" "$t_old one
$t_old two
$t_new three
$t_new four" "$("$MLVM" logs exp-1 --output --timestamps)"
check_eq "logs --since a UTC time, with -t and --tail" "$t_new four" \
        "$("$MLVM" logs exp-1 --output -t --tail 1 --since "$(date -u -d "@$((now - 600))" +%Y-%m-%dT%H:%M:%SZ)")"
out=$("$MLVM" logs exp-1 --console --timestamps 2>"$tmp/err")
check_eq "a log without times: - for each line" "-                        boot
-                        console line" "$out"
check_eq "and a note saying why" "mlvm: logs: note: console.log has no write times (written before mlvm recorded them)" \
        "$(cat "$tmp/err")"
out=$("$MLVM" logs exp-1 --console --since 1h 2>"$tmp/err")
check_eq "--since leaves out a log without times" "" "$out"
check_contains "and says so" "; --since leaves it out" "$(cat "$tmp/err")"
err=$("$MLVM" logs exp-1 --since yesterday 2>&1); rc=$?
check_eq "logs --since with a bad time exits 2" 2 $rc
check_eq "logs --since with a bad time: one line" \
        "mlvm: logs: --since yesterday: expected a duration (10m, 2h) or a UTC time (2026-01-02T15:04:05Z) (see 'mlvm logs --help')" "$err"
err=$("$MLVM" logs exp-1 --tail -3 2>&1); rc=$?
check_eq "logs --tail -3 exits 2" 2 $rc
err=$("$MLVM" logs exp-1 -f --timestamps 2>&1); rc=$?
check_eq "logs -f --timestamps is refused (exit 2)" 2 $rc
check_eq "and says why" "mlvm: logs: --timestamps and --since do not go with --follow (yet) (see 'mlvm logs --help')" "$err"

# --- rm
out=$("$MLVM" rm model-a 2>&1); rc=$?
check_eq "rm of a live run exits 1" 1 $rc
check_eq "rm of a live run: one line naming it" "mlvm: rm: run aaaa0001 is ready: stop it first (mlvm down aaaa0001)" "$out"
check "and keeps it" test -f "$st/runs/aaaa0001/run.json"
check_eq "a refused rm writes no audit event" "no audit log" "$([ -e "$st/audit.log" ] && cat "$st/audit.log" || echo "no audit log")"
out=$("$MLVM" rm bbbb aaaa0001 nosuch 2>&1); rc=$?
check_eq "rm of an ended, a live and a missing run exits 1" 1 $rc
check_contains "the ended one is removed" "removed run bbbb0002 (exp-1, exited)" "$out"
check_contains "the live one is refused" "mlvm: rm: run aaaa0001 is ready: stop it first" "$out"
check_contains "the missing one is named" "mlvm: rm: nosuch: no such run or name (see mlvm ps --all)" "$out"
check_eq "the ended run's directory is gone, artifacts and all" "gone" "$([ -e "$st/runs/bbbb0002" ] && echo there || echo gone)"
check_eq "its name entry is gone" "gone" "$([ -e "$st/names/exp-1" ] && echo there || echo gone)"
check "the live run stays" test -f "$st/runs/aaaa0001/run.json"
check_eq "one audit event lists the removal, not the record" "run.rm bbbb0002 exp-1 exited" \
        "$("$MLVM" audit --json | "${PYTHON3:-python3}" -c 'import json,sys
for e in json.load(sys.stdin):
    print(e["event"], *[" ".join((r["run"], r["name"], r["state"])) for r in e["removed"]])' 2>&1)"
"$MLVM" audit verify >/dev/null; check_eq "the audit chain verifies" 0 $?
out=$("$MLVM" rm --json cccc0003); rc=$?
check_eq "rm --json exits 0" 0 $rc
check_eq "rm --json lists what it removed" '[{"run":"cccc0003","name":"exp-2","state":"failed"}]' "$(printf '%s' "$out" | tr -d ' \n')"
err=$("$MLVM" rm --json aaaa0001 2>&1 >/dev/null)
check_eq "rm --json of a live run: a JSON error" \
        '{"error":{"code":"conflict","message":"run aaaa0001 is ready: stop it first (mlvm down aaaa0001)"}}' "$err"
err=$("$MLVM" rm 2>&1); rc=$?
check_eq "rm without a run is a usage error" 2 $rc

# --- prune
record cccc0003 exp-2 failed '"failed_at": '"$((now - 120))"
out=$("$MLVM" prune --until 1h); rc=$?
check_eq "prune --until 1h exits 0" 0 $rc
check_eq "prune --until 1h: only what ended more than an hour ago" \
        "removed run dddd0004 (exp-3, stopped)
prune: removed 1 run that ended more than 1h ago" "$out"
check "a run that ended two minutes ago stays" test -f "$st/runs/cccc0003/run.json"
check "another connection's run stays" test -f "$st/runs/eeee0005/run.json"
err=$("$MLVM" prune --until soon 2>&1); rc=$?
check_eq "prune --until with a bad duration exits 2" 2 $rc
check_eq "and says what a duration is" "mlvm: prune: --until soon: not a duration (e.g. 30m, 12h, 7d) (see 'mlvm prune --help')" "$err"
out=$("$MLVM" prune --json); rc=$?
check_eq "prune --json exits 0" 0 $rc
check_eq "prune (no --until): every ended run, never a live one" '[{"run":"cccc0003","name":"exp-2","state":"failed"}]' \
        "$(printf '%s' "$out" | tr -d ' \n')"
check "the live run stays" test -f "$st/runs/aaaa0001/run.json"
check_eq "prune with nothing to do, --json: []" "[]" "$("$MLVM" prune --json)"
check_eq "prune with nothing to do says so" "prune: removed 0 runs that ended" "$("$MLVM" prune)"
check_eq "audit: rm, rm, prune, prune" "run.rm run.rm run.prune run.prune" \
        "$("$MLVM" audit --json | "${PYTHON3:-python3}" -c 'import json,sys; print(*[e["event"] for e in json.load(sys.stdin)])')"

# --- retention: in mlvm.yaml, applied by up and run before they start
# anything (here they then fail: the test driver has no image).
cat > "$tmp/ret.yaml" <<'YAML'
retention: 1h
models:
  keep-a: { image: minimal }
experiments:
  exp-r: { image: minimal }
YAML
record ffff0006 keep-a stopped '"stopped_at": '"$((now - 7200))"
record ffff0007 keep-a stopped '"stopped_at": '"$((now - 600))"
record ffff0008 zzz exited '"exited_at": '"$((now - 86400 * 3))"
record ffff0009 exp-r exited '"exited_at": '"$((now - 7200))"
sed -i 's|test:///default|qemu:///system|' "$st/runs/ffff0009/run.json"   # another connection's
"$MLVM" -f "$tmp/ret.yaml" up keep-a >/dev/null 2>"$tmp/err"
check_eq "up applies the file's retention, as a notice" "mlvm: up: notice: retention 1h: removed 1 ended run: ffff0006 (keep-a)" \
        "$(grep retention "$tmp/err")"
check_eq "the run that ended 2 h ago is gone" "gone" "$([ -e "$st/runs/ffff0006" ] && echo there || echo gone)"
check "one that ended 10 min ago stays" test -f "$st/runs/ffff0007/run.json"
check "a run of a name the file does not declare stays" test -f "$st/runs/ffff0008/run.json"
check "another connection's run stays" test -f "$st/runs/ffff0009/run.json"
check "live runs stay" test -f "$st/runs/aaaa0001/run.json"
check_eq "the removal is audited as run.retention" "run.retention ffff0006 keep-a stopped" \
        "$("$MLVM" audit --json --event run.retention | "${PYTHON3:-python3}" -c 'import json,sys
for e in json.load(sys.stdin):
    print(e["event"], *[" ".join((r["run"], r["name"], r["state"])) for r in e["removed"]])' 2>&1)"
sed -i 's|qemu:///system|test:///default|' "$st/runs/ffff0009/run.json"
"$MLVM" -q -f "$tmp/ret.yaml" run exp-r >/dev/null 2>"$tmp/err"
check "run applies it too" test ! -e "$st/runs/ffff0009"
check_eq "-q: no notice" "" "$(grep retention "$tmp/err")"
"$MLVM" -f "$tmp/ret.yaml" up keep-a >/dev/null 2>"$tmp/err"
check_eq "nothing past the retention: no notice" "" "$(grep retention "$tmp/err")"

done_testing
