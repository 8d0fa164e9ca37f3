#!/usr/bin/env bash
# mlvm never assumes the hypervisor is local: info and setup over
# qemu+tcp://127.0.0.1:PORT/system against a second libvirtd that this test
# starts, loopback only, in its own mount namespace (its own /etc, /run,
# /var/lib and /var/log for libvirt), and stops again by pid.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt
command -v unshare >/dev/null || skip_all "unshare (util-linux) is missing"

tmp=$(mktemp -d)
pid=
cleanup() {
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill "$pid"
                for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
                kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

port=$("${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/sock" "$tmp/ns/etc" "$tmp/ns/run" "$tmp/ns/lib" "$tmp/ns/cache" "$tmp/ns/log"
cat > "$tmp/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
unix_sock_dir = "$tmp/sock"
CONF
# No virtlogd in the namespace: QEMU's output goes to plain files.
printf 'stdio_handler = "file"\n' > "$tmp/ns/etc/qemu.conf"
cat > "$tmp/inner.sh" <<INNER
set -e
mount --bind "$tmp/ns/etc" /etc/libvirt
mount --bind "$tmp/ns/run" /run/libvirt
mount --bind "$tmp/ns/lib" /var/lib/libvirt
mount --bind "$tmp/ns/cache" /var/cache/libvirt
mount --bind "$tmp/ns/log" /var/log/libvirt
exec libvirtd --listen -f "$tmp/libvirtd.conf" -p "$tmp/libvirtd.pid"
INNER
unshare --mount --propagation private bash "$tmp/inner.sh" > "$tmp/libvirtd.log" 2>&1 &
pid=$!
uri="qemu+tcp://127.0.0.1:$port/system"
up=no
for _ in $(seq 1 100); do
        timeout 10 virsh -q -c "$uri" version >/dev/null 2>&1 && { up=yes; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.3
done
check_eq "second libvirtd answers on $uri" yes "$up"
[ "$up" = yes ] || { tail -20 "$tmp/libvirtd.log" | sed 's/^/# /'; done_testing; exit 1; }
check_eq "it listens on loopback only" "127.0.0.1:$port" "$(ss -ltnH "sport = :$port" | awk '{print $4}' | sort -u)"

export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="mlvm-remote-test"
if [ -e /dev/kvm ]; then accel=kvm; else accel=tcg; fi
"$MLVM" --connect "$uri" info --json > "$tmp/info.json"; check_eq "info over tcp exits 0" 0 $?
check_eq "json: uri" "$uri" "$(json_get "$tmp/info.json" 'j["uri"]')"
check_eq "json: accelerator over tcp" "$accel" "$(json_get "$tmp/info.json" 'j["accelerator"]')"
[ -e /dev/vhost-vsock ] && vs=True || vs=False
check_eq "json: vsock probed over tcp" "$vs" "$(json_get "$tmp/info.json" 'j["vsock"]["available"]')"
check_eq "json: pool not defined on the remote" False "$(json_get "$tmp/info.json" 'j["pool"]["exists"]')"

out=$("$MLVM" --connect "$uri" setup); check_eq "setup over tcp exits 0" 0 $?
check_match "setup over tcp creates the pool there" "storage pool mlvm-remote-test created and started" "$out"
check_match "the pool exists in the remote daemon" '^State: +running' "$(virsh -c "$uri" pool-info mlvm-remote-test 2>&1)"
virsh -c qemu:///system pool-info mlvm-remote-test >/dev/null 2>&1; st=$?
check_eq "and not in the local one" 1 $st
out=$(MLVM_CONNECT="$uri" "$MLVM" info); check_contains "MLVM_CONNECT selects the remote" "URI:             $uri" "$out"
check_match "info over tcp shows the remote pool" "^Storage pool: +mlvm-remote-test: active" "$out"

kill "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null; st=$?
check_eq "second libvirtd stopped" 1 $st
pid=
err=$("$MLVM" --connect "$uri" info 2>&1); st=$?
check_eq "info against the stopped daemon exits 1" 1 $st
check_contains "and says it is not reachable" "mlvm: info: connect $uri: libvirtd is not reachable" "$err"

done_testing
