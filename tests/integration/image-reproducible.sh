#!/usr/bin/env bash
# Same inputs, same bytes: two builds of images/minimal, the second under
# another umask, another TMPDIR, with every input file's mtime changed and
# its kernel compiled again from source in another directory (an empty
# kernel cache), give a byte-identical kernel and initramfs, the same
# manifest and the same digest. The second kernel build takes minutes.
. "$TOP_SRCDIR/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (apt-get download for the kernel package)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
cache="${MLVM_DEB_CACHE:-$TOP_BUILDDIR/tests/.debcache}"
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$TOP_BUILDDIR/tests/.kernelcache}"

MLVM_DEB_CACHE="$cache" "$MLVM" -q image build "$TOP_SRCDIR/images/minimal" --out "$tmp/a" --no-import 2>"$tmp/a.err"
check_eq "first build exits 0" 0 $?

# Second build: copies of every input with new mtimes, another umask and TMPDIR.
mkdir -p "$tmp/cache2" "$tmp/tmpdir2" "$tmp/recipe2"
cp "$cache"/*.deb "$tmp/cache2/"
cp "$TOP_SRCDIR/images/minimal/recipe" "$TOP_SRCDIR/images/minimal/kernel.config" "$tmp/recipe2/"
agent="${MLVM_AGENT:-$TOP_BUILDDIR/guest-agent/mlvm-agent}"
cp "$agent" "$tmp/agent2"
touch -d '2001-02-03 04:05:06' "$tmp/cache2"/*.deb "$tmp/recipe2/recipe" "$tmp/recipe2/kernel.config" "$tmp/agent2"
( umask 077; TMPDIR="$tmp/tmpdir2" MLVM_DEB_CACHE="$tmp/cache2" MLVM_AGENT="$tmp/agent2" \
        MLVM_KERNEL_CACHE="$tmp/kernels2" "$MLVM" image build "$tmp/recipe2" --out "$tmp/b" --no-import \
        >"$tmp/b.out" 2>"$tmp/b.err" )
check_eq "second build (umask 077, other TMPDIR, new mtimes, kernel compiled again) exits 0" 0 $?
check_eq "the second build compiled its kernel (not from a cache)" 1 "$(ls -d "$tmp/kernels2"/*/ 2>/dev/null | wc -l)"
grep -h "kernel:.*built in" "$tmp/b.out" "$tmp/b.err" | sed 's/^/# /'

for f in initramfs kernel manifest.json manifest.sig; do
        check_eq "$f is byte-identical" "$(sha256sum < "$tmp/a/$f")" "$(sha256sum < "$tmp/b/$f")"
done
check_eq "same image digest" "$(sha256sum < "$tmp/a/manifest.json")" "$(sha256sum < "$tmp/b/manifest.json")"
echo "# image digest sha256:$(sha256sum < "$tmp/a/manifest.json" | cut -c1-64)"

# The initramfs has the fixed metadata that makes this so.
"${PYTHON3:-python3}" - "$tmp/a/initramfs" > "$tmp/cpio.txt" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
off, names = 0, []
while off + 110 <= len(data):
    h = data[off:off + 110]
    assert h[:6] == b"070701", h[:6]
    f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    mode, uid, gid, mtime, size, namesize = f[1], f[2], f[3], f[5], f[6], f[11]
    name = data[off + 110:off + 110 + namesize - 1].decode()
    off = (off + 110 + namesize + 3) & ~3
    off = (off + size + 3) & ~3
    if name == "TRAILER!!!":
        break
    names.append(name)
    print(name, oct(mode), uid, gid, mtime)
print("SORTED", names == sorted(names))
PY
check_eq "cpio entries are sorted" "SORTED True" "$(tail -1 "$tmp/cpio.txt")"
check_eq "every entry is uid 0, gid 0, mtime 0" 0 "$(grep -v '^SORTED' "$tmp/cpio.txt" | awk '$3 != 0 || $4 != 0 || $5 != 0' | wc -l)"
check_match "/init is the agent, mode 0755" '^init 0o100755 ' "$(grep '^init ' "$tmp/cpio.txt")"
check_match "/dev/console is a character device" '^dev/console 0o20600 ' "$(grep '^dev/console ' "$tmp/cpio.txt")"
check_match "module load order file is there" '^etc/mlvm/modules ' "$(grep '^etc/mlvm/modules ' "$tmp/cpio.txt")"

done_testing
