#!/usr/bin/env bash
# The man pages: mlvm(1) says what `mlvm --help` and `mlvm VERB --help` say
# (every verb and option, both ways) and what the verb table accepts;
# mlvm.yaml(5) has an entry for every key the config loader accepts, and
# only those, and its example loads; every environment variable the code
# reads is in mlvm(1); each page renders without a warning; make install
# puts the pages and the bash completion in place.
. "$TOP_SRCDIR/tests/lib.sh"
command -v groff >/dev/null || skip_all "groff not installed (apt-get install groff-base)"

page1=$TOP_BUILDDIR/man/mlvm.1
page5=$TOP_SRCDIR/man/mlvm.yaml.5
page8=$TOP_SRCDIR/man/mlvm-monitor.8
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# roff as plain words: \- is -, font changes go.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' "$@"; }
# The lines of section SH (a .SH title) of a page, as plain text.
section() { plain "$1" | awk -v sh=".SH $2" '$0 == sh { on = 1; next } /^\.SH / { on = 0 } on'; }
# Options and their short forms named in a text, one a line, sorted.
options() { grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-z0-9-]*' | sed 's/^[^-]*//' | sort -u; }
# "DESC: X is in A but not in B" for each line of $2 missing from $3, or nothing.
missing() {
        comm -23 <(printf '%s\n' "$2" | sed '/^$/d' | sort -u) <(printf '%s\n' "$3" | sed '/^$/d' | sort -u) |
                sed "s|^|$1: |"
}
# check_same DESC A-NAME A B-NAME B: the two lists hold the same lines.
check_same() {
        local d
        d=$( (missing "$2" "$3" "$5" | sed "s|\$| is not in $4|"; missing "$4" "$5" "$3" | sed "s|\$| is not in $2|"))
        if [ -z "$d" ]; then pass "$1"; else fail "$1" "$d"; fi
}

# ---- mlvm(1) and --help ----
help=$("$MLVM" --help)
help_verbs=$(printf '%s\n' "$help" | sed -n '/^Verbs:$/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\)  *[A-Z].*/\1/p')
man_verbs=$(plain "$page1" | awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH / { on = 0 } on && /^\.SS / { print $2 }')
check_same "mlvm(1) has a section for every verb of mlvm --help, and no other" \
        "mlvm --help: verb" "$help_verbs" "man/mlvm.1: verb" "$man_verbs"
check_same "mlvm --help lists every verb of the verb table" \
        "mlvm completion words: verb" "$("$MLVM" completion words)" "mlvm --help: verb" "$help_verbs"

check_same "mlvm(1) GLOBAL OPTIONS are mlvm --help's" \
        "mlvm --help: global option" "$(printf '%s\n' "$help" | sed -n '/^Global options:$/,/^$/p' | options)" \
        "man/mlvm.1: global option" "$(section "$page1" "GLOBAL OPTIONS" | options)"

for verb in $help_verbs; do
        [ "$verb" = help ] && continue
        vhelp=$("$MLVM" "$verb" --help | sed '/^Global options/,$d')
        vman=$(plain "$page1" | awk -v ss=".SS $verb" '$0 == ss { on = 1; next } /^\.S[SH] / { on = 0 } on')
        check_same "mlvm(1) $verb: the options of mlvm $verb --help, and no other" \
                "mlvm $verb --help: option" "$(printf '%s\n' "$vhelp" | options)" \
                "man/mlvm.1 $verb: option" "$(printf '%s\n' "$vman" | options)"
        # What getopt accepts is in the help: a table entry without a help line fails here.
        words=$("$MLVM" completion words "$verb")
        full=$("$MLVM" "$verb" --help | options)
        check_same "mlvm $verb --help names every option its table accepts" \
                "mlvm completion words $verb: option" "$(printf '%s\n' "$words" | grep '^-' | sed 's/=$//')" \
                "mlvm $verb --help: option" "$(printf '%s\n' "$full" | grep -xF -f <(printf '%s\n' "$words" | sed 's/=$//'))"
        subs=$(printf '%s\n' "$words" | grep -v '^-' || true)
        for s in $subs; do
                check_match "mlvm(1) $verb: subcommand $s has an entry" "^$s( |$)" \
                        "$(printf '%s\n' "$vman" | awk 'prev == ".TP" { print } { prev = $0 }')"
        done
done

# Every environment variable the code reads has an entry, and every entry is read.
src_env=$( (grep -rhoE 'getenv\("[A-Z_]+"\)' "$TOP_SRCDIR/src" --include='*.c' | sed 's/getenv("\(.*\)")/\1/'
        grep -rhoE '"MLVM_[A-Z_]+"' "$TOP_SRCDIR/src" --include='*.c' | tr -d '"') | sort -u)
man_env=$(section "$page1" ENVIRONMENT | awk 'prev == ".TP" { print } { prev = $0 }' |
        sed -E 's/^\.BR? //; s/"//g; s/ *, */\n/g; s/ +$//' | sed '/^$/d')
check_same "mlvm(1) ENVIRONMENT: every variable src/ reads, and no other" \
        "src/: getenv" "$src_env" "man/mlvm.1 ENVIRONMENT: entry" "$man_env"
for s in "EXIT STATUS" FILES "SEE ALSO"; do
        check_match "mlvm(1) has $s" . "$(section "$page1" "$s")"
done

# ---- mlvm.yaml(5) and the config loader ----
src_keys=$( (grep -hoE 'streq\([a-zA-Z_.]*(\[[a-z]\])?\.?k, "[^"]+"\)' "$TOP_SRCDIR"/src/lib/config/*.c |
        sed 's/.*, "\(.*\)")/\1/'
        grep -hoE 'strstartswith\([a-zA-Z_.]*(\[[a-z]\])?\.?k, "x-"\)' "$TOP_SRCDIR"/src/lib/config/*.c |
        sed 's/.*/x-*/') | sort -u)
check_match "the key scan finds the loader's keys" '^memory_limit$' "$src_keys"
keys5=$(plain "$page5" | awk '/^\.SH .*KEYS$/ { on = 1; next } /^\.SH / { on = 0 }
        on && prev == ".TP" { sub(/^\.B /, ""); print } { prev = $0 }' | sort -u)
check_same "mlvm.yaml(5) has an entry for every key src/lib/config/ accepts, and no other" \
        "src/lib/config: key" "$src_keys" "man/mlvm.yaml.5: key" "$keys5"
bad=$(plain "$page5" | awk '/^\.SH .*KEYS$/ { on = 1; next } /^\.SH / { on = 0 }
        on && /^\.TP/ { if (key != "" && !(ok && ex)) print key; key = ""; ok = ex = 0; getline; key = $0; next }
        on && /default|required|optional|ignored/ { ok = 1 } on && /Example:/ { ex = 1 }
        END { if (key != "" && !(ok && ex)) print key }')
check_eq "every mlvm.yaml(5) entry says its default (or required) and has an example" "" "$bad"
plain "$page5" | awk '/^\.SH EXAMPLES/ { on = 1 } on && /^\.EX/ { ex = 1; next } ex && /^\.EE/ { exit } ex' \
        >"$tmp/mlvm.yaml"
out=$("$MLVM" -f "$tmp/mlvm.yaml" config check 2>&1)
check_eq "mlvm.yaml(5)'s example passes mlvm config check" "$tmp/mlvm.yaml: ok (3 models and experiments)" "$out"
for k in $(printf '%s\n' "$keys5" | grep -v '^x-'); do
        check_match "mlvm.yaml(5)'s example uses $k" "(^|[ {,])$k:" "$(cat "$tmp/mlvm.yaml")"
done
norm=$("$MLVM" -f "$tmp/mlvm.yaml" config --json | "${PYTHON3:-python3}" -c '
import json, sys
c = json.load(sys.stdin)
keys = set(c)
for section in c.values():
    for w in section.values():
        keys |= set(w)
        for s in w.get("secrets", {}).values(): keys |= set(s)
        for d in w.get("disks", {}).values(): keys |= set(d)
print("\n".join(sorted(keys)))')
check_eq "mlvm config --json prints no key mlvm.yaml(5) lacks" "" \
        "$(missing "mlvm config --json: key" "$norm" "$keys5")"

# ---- mlvm-monitor(8) and its usage line ----
usage=$("$TOP_BUILDDIR/mlvm-monitor" 2>&1); st=$?
check_eq "mlvm-monitor without arguments is a usage error" 2 "$st"
synopsis=$(section "$page8" SYNOPSIS | sed -E 's/^\.[A-Z]+ //' | tr '\n' ' ' | tr -s ' ')
check_contains "mlvm-monitor(8)'s synopsis is its usage line" \
        "$(printf '%s\n' "$usage" | sed -E 's/^usage: //; s/ \(.*//')" "$synopsis"

# ---- rendering ----
for p in "$page1" "$page5" "$page8"; do
        check_eq "$(basename "$p") renders without a warning (groff -ww)" "" "$(groff -man -Tutf8 -ww -z "$p" 2>&1)"
done
if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man -l "$page1" 2>&1)
        check_match "man -l mlvm.1 shows the verbs" '^   completion$' "$out"
        out=$(MANWIDTH=80 man -l "$page5" 2>&1)
        check_match "man -l mlvm.yaml.5 shows the keys" '^       memory_limit$' "$out"
fi

# ---- make install ----
dest=$tmp/dest
out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP_BUILDDIR" install DESTDIR="$dest" 2>&1)
check_eq "make install DESTDIR= succeeds" 0 $?
for m in man1/mlvm.1 man5/mlvm.yaml.5 man8/mlvm-monitor.8; do
        f=$(find "$dest" -path "*/share/man/$m")
        check_match "make install puts $m in the man directory" . "$f"
        [ -n "$f" ] && check_eq "installed $m renders without a warning" "" "$(groff -man -Tutf8 -ww -z "$f" 2>&1)"
done
f=$(find "$dest" -path '*/bash-completion/completions/mlvm')
check_match "make install puts the bash completion in bash-completion's directory" . "$f"
[ -n "$f" ] && check_eq "the installed completion is what mlvm completion bash prints" \
        "$("$MLVM" completion bash)" "$(cat "$f")"

done_testing
