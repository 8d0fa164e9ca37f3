#!/usr/bin/env bash
# The layers hold: scripts/check-layers finds no upward include and no
# header cycle in the tree, and does find one planted in a copy.
. "$TOP_SRCDIR/tests/lib.sh"
command -v python3 >/dev/null || skip_all "python3 is missing"

out=$("$TOP_SRCDIR/scripts/check-layers" "$TOP_SRCDIR" 2>&1); st=$?
check_eq "the tree: no upward include, no header cycle" 0 $st
[ $st -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$TOP_SRCDIR/src" "$TOP_SRCDIR/proto" "$TOP_SRCDIR/guest-agent" "$tmp/"
# base reaching up into the library
sed -i '0,/#include "util.h"/s//#include "util.h"\n#include "run.h"/' "$tmp/src/base/util.c"
out=$("$TOP_SRCDIR/scripts/check-layers" "$tmp" 2>&1); st=$?
check_eq "an upward include fails the check" 1 $st
check_match "and names the file, the line and the layers" \
        '^src/base/util.c:[0-9]+: includes src/lib/run/run.h: base may include only base, not lib$' "$out"
cp "$TOP_SRCDIR/src/base/util.c" "$tmp/src/base/util.c"
# the agent reaching into the host
sed -i '0,/#include "proto.h"/s//#include "proto.h"\n#include "config.h"/' "$tmp/guest-agent/agent.h"
out=$("$TOP_SRCDIR/scripts/check-layers" "$tmp" 2>&1); st=$?
check_match "the agent may include only itself and proto" \
        '^guest-agent/agent.h:[0-9]+: includes src/lib/config/config.h: guest-agent may include only guest-agent, proto, not lib$' "$out"
cp "$TOP_SRCDIR/guest-agent/agent.h" "$tmp/guest-agent/agent.h"
# a header cycle
printf '#pragma once\n#include "digest.h"\n' >> "$tmp/src/base/util.h"
printf '#include "util.h"\n' >> "$tmp/src/base/digest.h"
out=$("$TOP_SRCDIR/scripts/check-layers" "$tmp" 2>&1); st=$?
check_eq "a header cycle fails the check" 1 $st
check_match "and shows the cycle" 'include cycle: src/base/(digest|util).h -> ' "$out"
cp "$TOP_SRCDIR/src/base/util.h" "$tmp/src/base/util.h"
cp "$TOP_SRCDIR/src/base/digest.h" "$tmp/src/base/digest.h"
# two modules that call each other (the kind of split the layers forbid)
sed -i '0,/#include "artifact-path.h"/s//#include "artifact-path.h"\n#include "artifacts.h"/' "$tmp/src/lib/artifacts/artifact-path.c"
out=$("$TOP_SRCDIR/scripts/check-layers" "$tmp" 2>&1); st=$?
check_eq "a module cycle fails the check" 1 $st
check_match "and names both modules" 'modules include each other: src/lib/artifacts/artifact-path, src/lib/artifacts/artifacts(,| |$)' "$out"
done_testing
