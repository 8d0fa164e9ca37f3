#!/usr/bin/env bash
# mlvm stats against the real libvirtd under TCG: a live run shows with
# the guest's memory, a resident set and a CPU figure; --json parses with
# its stable keys; a name, a run id prefix and the stream work; a name that
# names no live run fails; once the run is down the list is empty.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/stats"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

out=$("$MLVM" stats --no-stream); st=$?
check_eq "stats with no run exits 0" 0 $st
check_eq "and prints the header only" 1 "$(printf '%s\n' "$out" | wc -l)"
check_eq "stats --json with no run is []" "[]" "$("$MLVM" stats --json)"

out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "up idle exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')

out=$("$MLVM" stats --no-stream); st=$?
check_eq "stats --no-stream exits 0" 0 $st
check_match "the header" '^NAME +RUN +CPU % +MEM USAGE / GUEST +MEM % +BLOCK I/O \(R / W\) +BLOCK OPS \(R / W\)$' "$out"
check_match "the run's line: CPU, RSS against 256MiB, disk I/O" \
        "^idle +$run +[0-9]+\.[0-9]{2}% +[0-9.]+[KMG]iB / 256MiB +[0-9.]+% +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]?i?B +[0-9]+ / [0-9]+$" "$out"
printf '%s\n' "$out" | sed 's/^/# /'
# What libvirt reported, for the record (tests/unit/test-run-stats.c replays such a reply).
$V domstats --state --cpu-total --balloon --block "mlvm-idle-$run" | sed 's/^/# /'

"$MLVM" stats --json > "$tmp/stats.json"; st=$?
check_eq "stats --json exits 0" 0 $st
check_eq "--json: one element, the run" "1 $run idle" \
        "$(json_get "$tmp/stats.json" '"%d %s %s" % (len(j), j[0]["run"], j[0]["name"])')"
check_eq "--json: the guest's memory" 268435456 "$(json_get "$tmp/stats.json" 'j[0]["memory_bytes"]')"
check_eq "--json: QEMU's resident set, plausible" True \
        "$(json_get "$tmp/stats.json" '10<<20 < j[0]["memory_rss_bytes"] < 4<<30')"
check_eq "--json: a CPU figure above 0 (TCG emulates)" True "$(json_get "$tmp/stats.json" '0 < j[0]["cpu_percent"] < 400')"
check_eq "--json: about one second between the samples" True "$(json_get "$tmp/stats.json" '0.9 < j[0]["interval_s"] < 5')"
check_eq "--json: the data disk was read" True \
        "$(json_get "$tmp/stats.json" 'j[0]["block_read_bytes"] > 0 and j[0]["block_read_ops"] > 0')"
check_eq "--json: running, its domain, every key" \
        "running mlvm-idle-$run block_read_bytes,block_read_ops,block_write_bytes,block_write_ops,cpu_percent,domain,interval_s,memory_bytes,memory_percent,memory_rss_bytes,name,run,state" \
        "$(json_get "$tmp/stats.json" 'j[0]["state"] + " " + j[0]["domain"] + " " + ",".join(sorted(j[0]))')"
check_match "by name" "^idle +$run " "$("$MLVM" stats --no-stream idle)"
check_match "by run id prefix" "^idle +$run " "$("$MLVM" stats --no-stream "${run:0:5}")"

err=$("$MLVM" stats --no-stream nosuch 2>&1); st=$?
check_eq "an unknown name exits 1" 1 $st
check_eq "and says so" "mlvm: stats: nosuch: no running run of that name or id on qemu:///system" "$err"
err=$("$MLVM" stats --no-stream idle nosuch 2>&1); st=$?
check_eq "one unknown among known names still fails" 1 $st

# The stream, not on a terminal: a table appended each second until SIGINT.
timeout --preserve-status -s INT 3.5 "$MLVM" stats idle > "$tmp/stream.txt"; st=$?
check_eq "the stream ends with Ctrl-C, exit 0" 0 $st
check_eq "no escape sequences when not a terminal" 0 "$(grep -c $'\033' "$tmp/stream.txt")"
n=$(grep -cE "^idle +$run " "$tmp/stream.txt" | tr -d ' ')
check_eq "the stream printed the run at least twice" True "$([ "$n" -ge 2 ] && echo True || echo "False ($n)")"
check_eq "each line with a CPU figure" 0 "$(grep "^idle " "$tmp/stream.txt" | grep -c ' -- ')"

"$MLVM" -q down idle
check_eq "after down: stats --json is []" "[]" "$("$MLVM" stats --json)"
err=$("$MLVM" stats --no-stream idle 2>&1); st=$?
check_eq "a name whose run ended fails" 1 $st
nothing_left "stats"
done_testing
