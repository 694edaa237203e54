#!/bin/sh
# sshd.sh DIR: runs a throwaway OpenSSH server for tests, in the foreground.
# Creates in DIR: host_ed25519 (host key), user_ed25519 (authorized client
# key), wrong_ed25519 (a key the server does not accept), pass_ed25519
# (authorized, passphrase "test-passphrase"), authorized_keys, sshd_config,
# host_fp (the host key's "SHA256:..." fingerprint), port.  Listens on
# 127.0.0.1 on a free unprivileged port, prints that port on stdout, then
# execs sshd -D (logs in DIR/sshd.log), so the caller's pid is sshd's:
#   sh tests/integration/lib/sshd.sh "$d" > "$d/out" & pid=$!
#   trap 'kill $pid' EXIT; while [ ! -s "$d/port" ]; do sleep 0.1; done
# Login is as the current user (root allowed with keys only).
set -eu
dir=${1:?usage: sshd.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sshd=${SSHD:-/usr/sbin/sshd}
[ -x "$sshd" ] || { echo "sshd.sh: $sshd not found (apt-get install openssh-server)" >&2; exit 3; }
rm -f "$dir/port"
for k in host user wrong; do
    [ -f "$dir/${k}_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C "plinth-test-$k" -f "$dir/${k}_ed25519"
done
[ -f "$dir/pass_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N "test-passphrase" -C plinth-test-pass -f "$dir/pass_ed25519"
cat "$dir/user_ed25519.pub" "$dir/pass_ed25519.pub" > "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys" "$dir"/*_ed25519
ssh-keygen -l -E sha256 -f "$dir/host_ed25519.pub" | awk '{print $2}' > "$dir/host_fp"

# A free port: below the kernel's ephemeral range (so no outgoing
# connection can be holding it) and absent from /proc/net/tcp* in any state.
# Another process may still take it before sshd binds: callers retry.
lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
used=$(awk 'NR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
seed=$(( $$ + $(date +%N | sed 's/^0*//;s/^$/1/') ))
port=
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
    cand=$(( 10000 + (seed + i * 7919) % (lo - 10000) ))
    hex=$(printf '%04X' "$cand")
    echo "$used" | grep -qx "$hex" || port=$cand
    i=$((i + 1))
done
[ -n "$port" ] || { echo "sshd.sh: no free port" >&2; exit 3; }

cat > "$dir/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100
MaxSessions 10
LogLevel VERBOSE
Subsystem sftp internal-sftp
CFG
# sshd insists on its privilege separation directory.
[ -d /run/sshd ] || mkdir -p /run/sshd 2>/dev/null || true
"$sshd" -t -f "$dir/sshd_config" || { echo "sshd.sh: bad sshd config" >&2; exit 3; }
echo "$port" > "$dir/port.tmp" && mv "$dir/port.tmp" "$dir/port"
echo "$port"
exec "$sshd" -D -e -f "$dir/sshd_config" -E "$dir/sshd.log"
