#!/usr/bin/env bash
# Benchmark (not a test): N (default 10) `mlvm up`s of images/minimal
# started at once  vs  the same N one after another, in one run on this
# machine. Both end with N guests ready; the wall time to get there, each
# up's own time (median and slowest), then all N taken down at once (timed;
# the benchmark fails if a domain of its runs is left). Rounds:
# ceil(ROUNDS / 3) (ROUNDS default 3: one round), the two orders
# alternating between rounds.
# Usage (root, libvirtd running): [N=10] [ROUNDS=3] tests/bench/concurrent.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
n=${N:-10}
rounds=$(((${ROUNDS:-3} + 2) / 3))

"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
{
        echo "models:"
        for i in $(seq -f '%02g' 1 "$n"); do printf '  c%s: { image: minimal, memory: 256M }\n' "$i"; done
} > "$tmp/mlvm.yaml"
cd "$tmp"
# One up and down first: the page cache and libvirt warm for both orders.
"$mlvm" -q up c01
"$mlvm" -q down c01

# Every up of this phase: its time in $tmp/up-I.s, its status in $tmp/up-I.st.
up_one() {
        local t0 st=0
        t0=$(now)
        "$mlvm" -q up "c$1" > "$tmp/up-$1.out" 2>&1 || st=$?
        since "$t0" > "$tmp/up-$1.s"
        echo "$st" > "$tmp/up-$1.st"
}
phase() {   # sequential|concurrent: its wall time in $wall
        local t0 i
        rm -f "$tmp"/up-*
        t0=$(now)
        for i in $(seq -f '%02g' 1 "$n"); do
                if [ "$1" = sequential ]; then
                        up_one "$i"
                else
                        up_one "$i" &
                        bench_pids+=($!)
                fi
        done
        wait
        bench_pids=()
        wall=$(since "$t0")
}
# All of them down at once; prints the wall time.
down_all() {
        local t0 i pids=()
        t0=$(now)
        for i in $(seq -f '%02g' 1 "$n"); do
                [ -e "$MLVM_STATE_DIR/names/c$i" ] || continue
                "$mlvm" -q down "c$i" >/dev/null 2>>"$tmp/down.err" &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || true; done
        since "$t0"
}
stats() {   # median and slowest up of the phase, and how many failed
        local f=0 i
        for i in $(seq -f '%02g' 1 "$n"); do [ "$(cat "$tmp/up-$i.st")" -eq 0 ] || f=$((f + 1)); done
        printf '%s %s %d' "$(cat "$tmp"/up-*.s | median)" "$(cat "$tmp"/up-*.s | sort -n | tail -1)" "$f"
}

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
m() { med ${T[$1]}; }
failed=0 left=0
for r in $(seq 1 "$rounds"); do
        order="sequential concurrent"
        [ $((r % 2)) -eq 0 ] && order="concurrent sequential"
        for p in $order; do
                phase "$p"
                add "$p" "$wall"
                read -r med1 max1 f <<<"$(stats)"
                add "$p:med" "$med1"; add "$p:max" "$max1"
                failed=$((failed + f))
                [ "$f" -eq 0 ] || { echo "$p: $f of $n ups failed:"; cat "$tmp"/up-*.out; } >&2
                add "$p:down" "$(down_all)"
                left=$((left + $(bench_domains_left)))
        done
done

s=$(m sequential) c=$(m concurrent)
printf '%d ups of images/minimal, %d round(s) (medians of the rounds)\n' "$n" "$rounds"
printf '  one after another: %6.1f s wall  each up: median %.2f s, slowest %.2f s; all down at once %.1f s\n' \
        "$s" "$(m sequential:med)" "$(m sequential:max)" "$(m sequential:down)"
printf '  all at once:       %6.1f s wall  each up: median %.2f s, slowest %.2f s; all down at once %.1f s\n' \
        "$c" "$(m concurrent:med)" "$(m concurrent:max)" "$(m concurrent:down)"
printf '  ratio concurrent/sequential wall time: %.2fx\n' "$(ratio "$c" "$s")"
printf '  ups failed: %d; domains of this benchmark left after the downs: %d\n' "$failed" "$left"
bench_row "$n \`mlvm up\`s at once, wall time to all ready" "$(printf '%.1f s (each up: median %.1f s, slowest %.1f s)' \
        "$c" "$(m concurrent:med)" "$(m concurrent:max)")" "$(printf '%d one after another %.1f s' "$n" "$s")" \
        "$(printf '%.2fx' "$(ratio "$c" "$s")")"
[ "$failed" -eq 0 ] && [ "$left" -eq 0 ]
