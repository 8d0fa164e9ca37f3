#!/usr/bin/env bash
# Load, on whatever machine runs the tests (2 cores here, under TCG):
# LOAD_RUNS (20) models started concurrently by 4 `mlvm up` processes, each
# taking its share one after another; every run reaches ready or fails
# cleanly with a resource error naming the resource; no two runs share a
# name, run id, domain, volume or CID; all tear down to nothing. Then
# LOAD_CYCLES (100) up/down cycles of one model in a row: no growth in
# leftover files of the state directory, in libvirtd's open descriptors, or
# in the monitor's memory (the same monitor binary, one per run: its peak
# RSS of the last cycles against the first). Prints the times.
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

n=${LOAD_RUNS:-20}
cycles=${LOAD_CYCLES:-100}
procs=4
{
        echo "models:"
        for i in $(seq -w 1 "$n"); do printf '  m%s:\n    image: minimal\n    memory: 256M\n' "$i"; done
        printf '  cycle:\n    image: minimal\n    memory: 256M\n'
} > mlvm.yaml

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }

# --- N concurrent runs from 4 processes
t0=$(now)
for p in $(seq 0 $((procs - 1))); do
        (
                for i in $(seq -w 1 "$n"); do
                        [ $((10#$i % procs)) -eq "$p" ] || continue
                        "$MLVM" -q up "m$i" >"$tmp/up-$i.out" 2>"$tmp/up-$i.err"
                        echo $? > "$tmp/up-$i.st"
                done
        ) &
done
wait
t_up=$(since "$t0")
ready=0; clean_fail=0; bad=""
for i in $(seq -w 1 "$n"); do
        st=$(cat "$tmp/up-$i.st")
        if [ "$st" -eq 0 ]; then
                ready=$((ready + 1))
        elif grep -qiE 'memory|disk|space|resource|cpu|too many' "$tmp/up-$i.err"; then
                clean_fail=$((clean_fail + 1))
        else
                bad="$bad m$i($st: $(head -1 "$tmp/up-$i.err"))"
        fi
done
check_eq "every one of $n concurrent ups is ready or fails naming a resource" "" "$bad"
echo "# $n ups from $procs processes: $ready ready, $clean_fail refused for a resource, in $(printf '%.1f' "$t_up") s"
check "at least half are ready on this machine" test "$ready" -ge $((n / 2))

"$MLVM" ps --json > "$tmp/ps.json"
ids=$(json_get "$tmp/ps.json" '"\n".join(sorted(r["run"] for r in j if r["state"] == "ready"))')
check_eq "ps lists each ready run once" "$ready" "$(printf '%s\n' "$ids" | grep -c .)"
check_eq "no two runs share a run id" "$ready" "$(printf '%s\n' "$ids" | sort -u | grep -c .)"
names=$(json_get "$tmp/ps.json" '"\n".join(sorted(r["name"] for r in j if r["state"] == "ready"))')
check_eq "no two runs share a name" "$ready" "$(printf '%s\n' "$names" | sort -u | grep -c .)"
doms=$($V list --name | while read -r d; do [ -n "$d" ] && $V dumpxml "$d" 2>/dev/null | grep -q "$tmp" && echo "$d"; done)
check_eq "one domain per ready run" "$ready" "$(printf '%s\n' "$doms" | grep -c .)"
vols=$($V vol-list "$pool" | awk '{print $1}' | grep '^mlvm-run-' | sort)
check_eq "no volume shared: each belongs to one ready run" "" \
        "$(printf '%s\n' "$vols" | grep . | sed 's/^mlvm-run-\([0-9a-f]*\)-.*/\1/' | sort -u | grep -vxF -f <(printf '%s\n' "$ids") || true)"
cids=$(for d in $doms; do $V dumpxml "$d" | sed -n "s/.*<cid [^>]*address='\([0-9]*\)'.*/\1/p"; done)
check_eq "no two runs share a vsock CID" "$(printf '%s\n' "$cids" | grep -c .)" "$(printf '%s\n' "$cids" | grep . | sort -u | wc -l)"
# The sandbox holds under load: every QEMU has a uid of its own, under seccomp.
quids="" qseccomp=""
for d in $doms; do
        qpid=$(pgrep -f -- "-name guest=$d," | head -1)
        quids="$quids $(awk '/^Uid:/ {print $2}' "/proc/${qpid:-0}/status" 2>/dev/null)"
        [ "$(awk '/^Seccomp:/ {print $2}' "/proc/${qpid:-0}/status" 2>/dev/null)" = 2 ] || qseccomp="$qseccomp $d"
done
check_eq "every QEMU has a uid of its own" "$ready" "$(printf '%s\n' $quids | grep -v '^0$' | sort -u | grep -c .)"
check_eq "every QEMU is under seccomp" "" "$(echo $qseccomp)"

t0=$(now)
for p in $(seq 0 $((procs - 1))); do
        (
                for i in $(seq -w 1 "$n"); do
                        [ $((10#$i % procs)) -eq "$p" ] || continue
                        [ "$(cat "$tmp/up-$i.st")" -eq 0 ] || continue
                        "$MLVM" -q down "m$i" >/dev/null 2>>"$tmp/down.err" || echo "m$i" >> "$tmp/down.failed"
                done
        ) &
done
wait
t_down=$(since "$t0")
check_eq "every down succeeds" "" "$(cat "$tmp/down.failed" 2>/dev/null)"
echo "# $ready downs from $procs processes in $(printf '%.1f' "$t_down") s"
nothing_left "after $n concurrent runs"

# --- up/down cycles: nothing grows
state_files() { find "$MLVM_STATE_DIR" -path "$MLVM_STATE_DIR/runs" -prune -o -type f -print | grep -v '/audit\.' | wc -l; }
run_files() { (cd "$MLVM_STATE_DIR/runs/$1" && find . | sort | tr '\n' ' '); }
libvirtd_fds() { ls /proc/"$(pgrep -x libvirtd | head -1)"/fd | wc -l; }
# Running domains on this libvirtd, ours or not: `make -j check` runs other
# tests beside this one, and each of their guests holds descriptors in
# libvirtd (its QEMU monitor, chardevs, log), about 7; they are allowed
# for, a leak of ours over the cycles would be one or more per cycle.
domains_now() { virsh -q -c qemu:///system list --name 2>/dev/null | grep -c .; }
files0=$(state_files); fds0=$(libvirtd_fds); doms0=$(domains_now)
t0=$(now); failed=0; rss=(); runs=()
for c in $(seq 1 "$cycles"); do
        if ! "$MLVM" -q up cycle >/dev/null 2>"$tmp/cycle.err"; then
                failed=$((failed + 1)); sed 's/^/# /' "$tmp/cycle.err" | head -3
                continue
        fi
        run=$(cat "$MLVM_STATE_DIR/names/cycle")
        runs+=("$run")
        mon=$(json_get "$MLVM_STATE_DIR/runs/$run/run.json" 'j["monitor_pid"]')
        rss+=("$(awk '/^VmHWM/ {print $2}' /proc/"$mon"/status 2>/dev/null || echo 0)")
        "$MLVM" -q down cycle >/dev/null 2>>"$tmp/cycle.err" || failed=$((failed + 1))
done
t_cycles=$(since "$t0")
files1=$(state_files); fds1=$(libvirtd_fds); doms1=$(domains_now)
check_eq "$cycles up/down cycles all succeed" 0 "$failed"
echo "# $cycles up/down cycles in $(printf '%.0f' "$t_cycles") s ($(echo "$t_cycles / $cycles" | bc -l | xargs printf '%.2f') s each)"
check_eq "no leftover files in the state directory after $cycles cycles" "$files0" "$files1"
if [ ${#runs[@]} -ge 2 ]; then
        check_eq "the last run's record holds what the first one's did" "$(run_files "${runs[0]}")" \
                "$(run_files "${runs[${#runs[@]} - 1]}")"
fi
check_eq "no socket left in the state directory" "" "$(find "$MLVM_STATE_DIR" -type s)"
extra=$((doms1 > doms0 ? doms1 - doms0 : 0))
echo "# libvirtd fds: $fds0 before, $fds1 after; running domains $doms0 before, $doms1 after (other tests')"
check "libvirtd's open descriptors do not grow (at most +8, and 8 per domain another test added)" \
        test "$fds1" -le $((fds0 + 8 + 8 * extra))
k=${#rss[@]}
if [ "$k" -ge 10 ]; then
        first=$(printf '%s\n' "${rss[@]:0:5}" | sort -n | tail -1)
        last=$(printf '%s\n' "${rss[@]:$((k - 5))}" | sort -n | tail -1)
        echo "# monitor peak RSS (VmHWM at ready): first cycles ${first} KiB, last cycles ${last} KiB"
        check "the monitor's memory does not grow over the cycles (at most +10 %)" test "$last" -le $((first + first / 10))
fi
nothing_left "after $cycles cycles"
done_testing
