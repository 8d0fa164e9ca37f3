# tests/lib-libvirtd.sh: a second, loopback-only libvirtd for tests, in its
# own mount namespace (its own /etc, /run, /var/lib, /var/cache, /var/log
# for libvirt, all under $LVD_DIR), reachable as qemu+tcp://127.0.0.1:PORT.
# Source after tests/lib.sh; call lvd_start DIR, use $LVD_URI, lvd_stop.
# The state lives in DIR, so lvd_stop + lvd_start again is a libvirtd
# restart that finds its running guests again.

LVD_PID=
lvd_start() {
        LVD_DIR=$1
        mkdir -p "$LVD_DIR/sock" "$LVD_DIR/ns/etc" "$LVD_DIR/ns/run" "$LVD_DIR/ns/lib" "$LVD_DIR/ns/cache" "$LVD_DIR/ns/log"
        if [ -z "${LVD_PORT:-}" ]; then
                LVD_PORT=$("${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        fi
        LVD_URI="qemu+tcp://127.0.0.1:$LVD_PORT/system"
        cat > "$LVD_DIR/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$LVD_PORT"
auth_tcp = "none"
unix_sock_dir = "$LVD_DIR/sock"
CONF
        # No virtlogd in the namespace: QEMU's output goes to plain files.
        printf 'stdio_handler = "file"\n' > "$LVD_DIR/ns/etc/qemu.conf"
        cat > "$LVD_DIR/inner.sh" <<INNER
set -e
mount --bind "$LVD_DIR/ns/etc" /etc/libvirt
mount --bind "$LVD_DIR/ns/run" /run/libvirt
mount --bind "$LVD_DIR/ns/lib" /var/lib/libvirt
mount --bind "$LVD_DIR/ns/cache" /var/cache/libvirt
mount --bind "$LVD_DIR/ns/log" /var/log/libvirt
exec libvirtd --listen -f "$LVD_DIR/libvirtd.conf" -p "$LVD_DIR/libvirtd.pid"
INNER
        unshare --mount --propagation private bash "$LVD_DIR/inner.sh" >> "$LVD_DIR/libvirtd.log" 2>&1 &
        LVD_PID=$!
        for _ in $(seq 1 100); do
                timeout 10 virsh -q -c "$LVD_URI" version >/dev/null 2>&1 && return 0
                lvd_alive "$LVD_PID" || break
                sleep 0.3
        done
        tail -20 "$LVD_DIR/libvirtd.log" | sed 's/^/# /'
        return 1
}

# Running, as opposed to gone or a zombie (kill -0 succeeds on a zombie).
lvd_alive() {
        local st
        st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
        [ "${st%% *}" != Z ]
}

# Stop the daemon we started, by pid (its guests keep running): SIGTERM, up
# to 10 s, then SIGKILL; reap it. Returns 0 when it exited on SIGTERM.
lvd_stop() {
        local r=0
        [ -n "$LVD_PID" ] || return 0
        kill "$LVD_PID" 2>/dev/null
        for _ in $(seq 1 50); do lvd_alive "$LVD_PID" || break; sleep 0.2; done
        if lvd_alive "$LVD_PID"; then
                kill -9 "$LVD_PID" 2>/dev/null
                r=1
        fi
        wait "$LVD_PID" 2>/dev/null
        LVD_PID=
        return $r
}

# A test against a libvirtd of its own: root with libvirt and unshare
# needed, a temporary directory ($tmp), and mlvm's state, pool (named POOL)
# and caches there or in the build tree's shared caches.
lvd_test_env() {
        require_root_libvirt
        command -v unshare >/dev/null || skip_all "unshare (util-linux) is missing"
        tmp=$(mktemp -d)
        chmod 0711 "$tmp"
        export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$1" MLVM_POOL_PATH="$tmp/pool"
        export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$TOP_BUILDDIR/tests/.debcache}"
        # The kernel built for the default image: once per build tree (minutes), then seconds.
        export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$TOP_BUILDDIR/tests/.kernelcache}"
        export MLVM_BOOT_TIMEOUT=120
}
