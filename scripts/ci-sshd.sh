#!/usr/bin/env bash
# Throwaway OpenSSH servers on 127.0.0.1 for the remote backend's tests: two sshd ("two
# hosts") on spare loopback ports, a host key and a client key pair generated for this run.
#
#   scripts/ci-sshd.sh start DIR   install openssh-server if missing, start both, write DIR/env
#   scripts/ci-sshd.sh stop DIR    stop them
#
# DIR/env exports TB_TEST_SSH_PORT, TB_TEST_SSH_PORT2, TB_TEST_SSH_KEY,
# TB_TEST_SSH_KNOWN_HOSTS, TB_TEST_SSH_DIR and TB_REQUIRE_SSH=1 (the remote tests then fail
# instead of skipping when they cannot reach sshd). Only loopback is ever listened on.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi
SSHD=/usr/sbin/sshd

install_openssh() {
    local missing=()
    [ -x "$SSHD" ] || missing+=(openssh-server)
    command -v ssh >/dev/null || missing+=(openssh-client)
    command -v ssh-keygen >/dev/null || missing+=(openssh-client)
    [ ${#missing[@]} -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    # The package lists are refreshed only if the install cannot find the packages.
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    }
}

# Starts one sshd on a spare port; prints the port.
start_one() {
    local name=$1 port config
    for _ in $(seq 1 20); do
        port=$((20000 + RANDOM % 40000))
        # Something already answers there: try another port.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
        config="$dir/sshd_config-$name"
        cat >"$config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/client_ed25519.pub
PidFile $dir/sshd-$name.pid
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 200
MaxSessions 200
LogLevel ERROR
CONF
        "$SSHD" -D -e -f "$config" </dev/null >/dev/null 2>>"$dir/sshd-$name.log" &
        echo $! >"$dir/sshd-$name.launched"
        for _ in $(seq 1 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                echo "$port"
                return 0
            fi
            kill -0 "$(cat "$dir/sshd-$name.launched")" 2>/dev/null || break
            sleep 0.05
        done
        kill "$(cat "$dir/sshd-$name.launched")" 2>/dev/null || true
    done
    echo "cannot start sshd ($name); see $dir/sshd-$name.log" >&2
    return 1
}

case "$cmd" in
start)
    install_openssh
    mkdir -p "$dir" /run/sshd
    chmod 700 "$dir"
    rm -f "$dir"/host_ed25519* "$dir"/client_ed25519*
    ssh-keygen -q -t ed25519 -N '' -C throttlebench-ci-host -f "$dir/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C throttlebench-ci-client -f "$dir/client_ed25519"
    port1=$(start_one a)
    port2=$(start_one b)
    hostkey=$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")
    {
        echo "[127.0.0.1]:$port1 $hostkey"
        echo "[127.0.0.1]:$port2 $hostkey"
    } >"$dir/known_hosts"
    cat >"$dir/env" <<ENV
export TB_TEST_SSH_PORT=$port1
export TB_TEST_SSH_PORT2=$port2
export TB_TEST_SSH_KEY=$dir/client_ed25519
export TB_TEST_SSH_KNOWN_HOSTS=$dir/known_hosts
export TB_TEST_SSH_DIR=$dir
export TB_REQUIRE_SSH=1
ENV
    echo "sshd listening on 127.0.0.1:$port1 and 127.0.0.1:$port2 (env in $dir/env)"
    ;;
stop)
    for launched in "$dir"/sshd-*.launched; do
        [ -e "$launched" ] || continue
        kill "$(cat "$launched")" 2>/dev/null || true
        rm -f "$launched"
    done
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
