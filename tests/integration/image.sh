#!/usr/bin/env bash
# Images end to end against the real libvirtd: keys, mlvm image build of
# images/minimal (kernel from Debian's .deb, agent as /init), import with
# upload to a pool through libvirt, verify, a real guest booted from the
# pool volumes under TCG that says HELLO to mlvm's own channel and codec
# and answers PING, then rm.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt

tmp=$(mktemp -d)
chmod 0711 "$tmp"   # QEMU runs as libvirt-qemu: it must reach the pool and the console log
pool="mlvm-test-$$-$RANDOM"
dom="mlvm-test-hello-$$"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool"
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$TOP_BUILDDIR/tests/.debcache}"
# The kernel built for the default image: once per build tree (minutes), then seconds.
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$TOP_BUILDDIR/tests/.kernelcache}"
cleanup() {
        virsh -q destroy "$dom" >/dev/null 2>&1
        for v in $(virsh -q vol-list "$pool" 2>/dev/null | awk '{print $1}'); do virsh -q vol-delete --pool "$pool" "$v" >/dev/null 2>&1; done
        virsh -q pool-destroy "$pool" >/dev/null 2>&1
        virsh -q pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT

# Keys.
out=$("$MLVM" key gen alice); check_eq "key gen exits 0" 0 $?
check_match "key gen prints the id" '^key alice: id [0-9a-f]{16} ' "$out"
check_eq "private key is mode 0600" 600 "$(stat -c %a "$tmp/state/keys/alice.key")"
"$MLVM" key export alice > "$tmp/alice.pem"
check_match "key export prints a PEM public key" '^-----BEGIN PUBLIC KEY-----$' "$(head -1 "$tmp/alice.pem")"
check_match "the exported key is Ed25519 (openssl agrees)" 'ED25519 Public-Key' "$(openssl pkey -pubin -in "$tmp/alice.pem" -text -noout 2>&1)"
err=$("$MLVM" key gen alice 2>&1); check_eq "key gen refuses to overwrite" 1 $?
check_match "and says why" "^mlvm: key: key alice already exists" "$err"
err=$("$MLVM" key gen 'Bad/Name' 2>&1); check_match "bad key name refused" 'must match' "$err"
openssl genpkey -algorithm ed25519 -out "$tmp/pub-priv.pem" 2>/dev/null
openssl pkey -in "$tmp/pub-priv.pem" -pubout -out "$tmp/publisher.pem" 2>/dev/null
out=$("$MLVM" key trust "$tmp/publisher.pem"); check_match "key trust accepts an openssl Ed25519 key" '^trusted key [0-9a-f]{16} ' "$out"
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out "$tmp/rsa.pem" 2>/dev/null
openssl pkey -in "$tmp/rsa.pem" -pubout -out "$tmp/rsa.pub" 2>/dev/null
err=$("$MLVM" key trust "$tmp/rsa.pub" 2>&1); check_eq "key trust refuses RSA" 1 $?
check_match "naming the reason" 'not an Ed25519 key' "$err"
check_match "key ls lists alice and the publisher" 'alice .* yes +no' "$("$MLVM" key ls)"

check "setup creates the test pool" "$MLVM" setup
start=$(date +%s)
out=$("$MLVM" image build "$TOP_SRCDIR/images/minimal" 2>"$tmp/build.err"); st=$?
check_eq "image build images/minimal exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/build.err"
digest=$(printf '%s\n' "$out" | sed -n 's/^built and imported sha256:\([0-9a-f]\{64\}\)$/\1/p')
check_match "build prints the image digest" '^[0-9a-f]{64}$' "$digest"
echo "# build took $(( $(date +%s) - start )) s"
check_eq "build: no step lines when stderr is not a terminal (--progress=auto)" 0 "$(grep -c 'packing initramfs' "$tmp/build.err")"
"$MLVM" --progress=plain image build "$TOP_SRCDIR/images/minimal" >/dev/null 2>"$tmp/build2.err"; st=$?
check_eq "build --progress=plain exits 0" 0 $st
check_match "build --progress=plain: each step on stderr, for logs" "^mlvm: image build: packing initramfs" "$(cat "$tmp/build2.err")"
err=$("$MLVM" --progress=sometimes image ls 2>&1); st=$?
check_eq "--progress=sometimes is a usage error" 2 $st
check_eq "saying what it takes" "mlvm: image: --progress: \"sometimes\" is not auto, plain or none (see 'mlvm image --help')" "$err"
check_match "image ls shows minimal:latest" "^minimal:latest +sha256:$digest" "$("$MLVM" image ls)"
"$MLVM" image ls --json > "$tmp/ls.json"
check_eq "image ls --json" "sha256:$digest" "$(json_get "$tmp/ls.json" 'j[0]["digest"]')"
out=$("$MLVM" image verify minimal); check_eq "image verify minimal exits 0" 0 $?
check_match "verify checked the signature" '^  signature +ok' "$out"
check_match "verify re-hashed the kernel" '^  kernel +ok' "$out"
check_match "verify read the pool volume back through libvirt" '^  volume initramfs +ok' "$out"
err=$("$MLVM" --progress=plain image verify minimal 2>&1 >/dev/null)
check_match "verify --progress=plain: a line per part hashed" '^mlvm: image verify: part kernel: [0-9.]+ MB, SHA-256 matches' "$err"
check_match "verify --progress=plain: and per volume read back" '^mlvm: image verify: volume mlvm-img-[0-9a-f]{16}-initramfs: [0-9.]+ MB read back' "$err"
short=${digest:0:16}
vols=$(virsh -q vol-list "$pool" | awk '{print $1}' | sort | tr '\n' ' ')
check_eq "digest-named volumes in the pool" "mlvm-img-$short-initramfs mlvm-img-$short-kernel " "$vols"
kpath=$(virsh vol-path --pool "$pool" "mlvm-img-$short-kernel")
ipath=$(virsh vol-path --pool "$pool" "mlvm-img-$short-initramfs")
check_eq "kernel volume is read-only (0444)" 444 "$(stat -c %a "$kpath")"

# A plain libvirt domain booted from those volumes (the runs issue adds mlvm up).
cmdline=$(json_get "$tmp/state/images/sha256/$digest/manifest.json" 'j["cmdline"]')
cat > "$tmp/dom.xml" <<XML
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>$kpath</kernel><initrd>$ipath</initrd>
    <cmdline>$cmdline mlvm.timeout=120</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='$tmp/console.log'/><target port='0'/></serial>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.mlvm.agent.0'/></channel>
  </devices>
</domain>
XML
check "the guest starts under libvirt" virsh create "$tmp/dom.xml"
"$TOP_BUILDDIR/tests/integration/agent-hello" qemu:///system "$dom" 120 > "$tmp/hello.json"; st=$?
check_eq "agent-hello exits 0 (HELLO, HELLO_ACK, PING/PONG)" 0 $st
[ $st -eq 0 ] || { cat "$tmp/hello.json" | sed 's/^/# /'; tail -20 "$tmp/console.log" | sed 's/^/# /'; }
check_eq "HELLO carries the agent version" "$(sed -n 's/^AC_INIT(\[mlvm\], \[\([^]]*\)\].*/\1/p' "$TOP_SRCDIR/configure.ac")" \
        "$(json_get "$tmp/hello.json" 'j["hello"]["agent_version"]')"
check_eq "HELLO names the transport" virtio-serial "$(json_get "$tmp/hello.json" 'j["hello"]["transport"]')"
check_eq "HELLO protocol version" 1 "$(json_get "$tmp/hello.json" 'j["hello"]["proto_version"]')"
check_eq "PONG answered the PING" True "$(json_get "$tmp/hello.json" 'j["pong"]')"
echo "# HELLO after $(json_get "$tmp/hello.json" 'round(j["hello_after_s"], 2)') s (guest uptime $(json_get "$tmp/hello.json" 'j["hello"]["uptime_ms"]') ms), PING RTT $(json_get "$tmp/hello.json" 'round(j["ping_rtt_ms"], 1)') ms"
check_match "the console shows the agent as PID 1" 'mlvm-agent: HELLO sent over virtio-serial' "$(cat "$tmp/console.log")"
virsh -q destroy "$dom" >/dev/null 2>&1

# A second tag on the same digest; rm removes tags first, then the image and its volumes.
check "image import again with another tag" "$MLVM" image import "$tmp/state/images/sha256/$digest" --tag minimal:test
out=$("$MLVM" image rm minimal:test); check_match "rm of one tag keeps the image" 'tag removed' "$out"
out=$("$MLVM" image rm minimal); check_match "rm of the last tag removes the image" 'removed \(image and volumes\)' "$out"
check_eq "no volume left in the pool" "" "$(virsh -q vol-list "$pool" | awk '{print $1}')"
check_eq "nothing left in the store" "" "$(ls "$tmp/state/images/sha256")"
err=$("$MLVM" image verify minimal 2>&1); check_eq "verify of a removed image exits 1" 1 $?
check_match "and says it is not there" 'no such tag in the store' "$err"

# The audit log saw all of it, and its chain and signed checkpoint hold.
out=$("$MLVM" audit verify); check_match "audit verify passes" '^audit log ok: [0-9]+ lines' "$out"
events=$("$MLVM" audit --event image | awk '{print $3}' | tr '\n' ' ')
# A verify of a name not in the store verified nothing: not a security event.
check_match "audit records build, import and rm, not the verify of a missing image" \
        'image.build image.import image.import image.rm image.rm $' "$events"

done_testing
