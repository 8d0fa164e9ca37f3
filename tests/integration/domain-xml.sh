#!/usr/bin/env bash
# The golden domain XMLs (tests/data/domain/*.xml, checked by
# tests/unit/test-domain) against the real QEMU driver: each is defined
# into qemu:///system (never started), with its volume paths pointed at
# real files, and the XML libvirt reports back must still have no NIC, no
# USB controller, no balloon, nosharepages, the TCG code cache, the agent
# channel and the vsock CID: libvirt adds devices on its own otherwise.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt

tmp=$(mktemp -d)
defined=()
cleanup() {
        for d in "${defined[@]}"; do virsh -q undefine "$d" >/dev/null 2>&1; done
        rm -rf "$tmp"
}
trap cleanup EXIT

# This host may not offer KVM: then the kvm case is defined as a qemu one
# (and without host-passthrough, which QEMU's TCG cannot do).
kvm=no
virsh -q domcapabilities --virttype kvm >/dev/null 2>&1 && kvm=yes

count() { printf '%s\n' "$2" | grep -c -- "$1"; }

n=0
for golden in "$TOP_SRCDIR"/tests/data/domain/*.xml; do
        case=$(basename "$golden" .xml)
        n=$((n + 1))
        dom="mlvm-xmltest-$$-$n"
        mkdir -p "$tmp/$case"
        xml=$(sed "s|<name>[^<]*</name>|<name>$dom</name>|; s|/var/lib/mlvm/pool/|$tmp/$case/|g" "$golden")
        # Real files where the volumes would be: empty kernel and initrd, qcow2 and raw disks.
        for p in $(printf '%s\n' "$xml" | grep -o "$tmp/$case/[^<\"]*" | sort -u); do
                if [[ $p == *.qcow2 ]] && command -v qemu-img >/dev/null; then
                        qemu-img create -q -f qcow2 "$p" 64M
                else
                        truncate -s 1M "$p"
                fi
        done
        if printf '%s\n' "$xml" | grep -q '<domain type="kvm">' && [ $kvm = no ]; then
                echo "# $case: no KVM on this host, defined as type qemu"
                xml=$(printf '%s\n' "$xml" | sed 's|<domain type="kvm">|<domain type="qemu">|; /<cpu mode="host-passthrough"\/>/d')
        fi
        printf '%s\n' "$xml" > "$tmp/$case.xml"
        out=$(virsh -q define "$tmp/$case.xml" 2>&1); st=$?
        check_eq "$case: virsh define accepts the generated XML" 0 $st
        if [ $st -ne 0 ]; then
                echo "$out" | sed 's/^/# /'
                continue
        fi
        defined+=("$dom")
        live=$(virsh dumpxml "$dom")
        check_eq "$case: no <interface>" 0 "$(count '<interface' "$live")"
        check_eq "$case: one USB controller, model none" \
                "1 1" "$(count "<controller type='usb'" "$live") $(count "<controller type='usb' index='0' model='none'/>" "$live")"
        check_eq "$case: memballoon none" 1 "$(count "<memballoon model='none'/>" "$live")"
        check_eq "$case: nosharepages" 1 "$(count '<nosharepages/>' "$live")"
        check_eq "$case: no graphics, video, sound or non-PS/2 input" 0 \
                "$(printf '%s\n' "$live" | grep -E '<(graphics|video|sound) |<input ' | grep -vc "bus='ps2'")"
        check_eq "$case: on_reboot destroy" 1 "$(count '<on_reboot>destroy</on_reboot>' "$live")"
        check_eq "$case: the agent channel" 1 "$(count "<target type='virtio' name='org.mlvm.agent.0'/>" "$live")"
        check_match "$case: mlvm metadata kept" '<mlvm:run xmlns:mlvm="https://mlvm.dev/xmlns/run/1" id="[0-9a-f]{8}"' "$live"
        check_eq "$case: every disk, the read-only ones read-only" \
                "$(count '<disk ' "$xml") $(count '<readonly/>' "$xml")" \
                "$(count '<disk ' "$live") $(count '<readonly/>' "$live")"
        mib=$(printf '%s\n' "$xml" | sed -n 's|.*<tb-cache unit="MiB">\([0-9]*\)</tb-cache>.*|\1|p')
        if [ -n "$mib" ]; then
                check_eq "$case: tb-cache of $mib MiB kept (libvirt reports KiB)" \
                        "<tb-cache unit='KiB'>$((mib * 1024))</tb-cache>" "$(printf '%s\n' "$live" | grep -o '<tb-cache[^/]*/tb-cache>')"
        fi
        cid=$(printf '%s\n' "$xml" | sed -n 's|.*<cid auto="no" address="\([0-9]*\)"/>.*|\1|p')
        if [ -n "$cid" ]; then
                check_eq "$case: vsock with CID $cid" 1 "$(count "<cid auto='no' address='$cid'/>" "$live")"
        else
                check_eq "$case: no vsock" 0 "$(count '<vsock' "$live")"
        fi
        check "$case: undefine" virsh -q undefine "$dom"
        check_eq "$case: nothing left" "" "$(virsh -q list --all --name | grep -x "$dom")"
done
check_match "found the golden files" '^[1-9]' "$n"

done_testing
