#!/usr/bin/env bash
# Every shell script of the project parses: the tests, the benchmarks
# (make check never runs those, and a quote broke tests/bench/up.sh
# unseen), the setup and CI scripts, the examples. bash -n reads a script
# without running it; a script for sh is read by sh -n too.
. "$TOP_SRCDIR/tests/lib.sh"

cd "$TOP_SRCDIR" || exit 1
scripts=$( (find tests examples images guest-agent scripts .ci -type f \( -name '*.sh' -o -path 'scripts/*' \
                -o -path '.ci/*' \) 2>/dev/null) | sort | while read -r f; do
                case $(head -c 64 "$f" | head -1) in
                '#!'*bash*) echo "bash $f" ;;
                '#!'*/sh|'#!'*/sh' '*) echo "sh $f" ;;
                *) case $f in *.sh) echo "bash $f" ;; esac ;;
                esac
        done)
check_match "the CI, setup and bench scripts are among them" \
        'bash \.ci/run .*bash scripts/setup .*bash tests/bench/up\.sh ' "$(echo $scripts)"
while read -r shell f; do
        [ -n "$f" ] || continue
        err=$("$shell" -n "$f" 2>&1); st=$?
        check_eq "$f parses ($shell -n)" "0 " "$st $err"
done <<< "$scripts"
# The check itself finds a broken script.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "echo 'it's broken'" > "$tmp/bad.sh"
bash -n "$tmp/bad.sh" 2>/dev/null; check_eq "bash -n refuses an unbalanced quote" 2 $?
done_testing
