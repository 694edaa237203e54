#!/bin/sh
# k8s_tunnel.sh: the Kubernetes provider reaches the cluster's API through
# an SSH bastion (`via`): a throwaway OpenSSH server on loopback
# (lib/sshd.sh, LogLevel DEBUG1) forwards to the emulator's Kubernetes API.
#   - a wrong bastion host key fails with the host key error; nothing applied
#   - apply (namespace, Deployment, manifest ConfigMap) goes through the
#     tunnel: sshd logs direct-tcpip channels to the emulator's port
#   - a key with a passphrase works; the passphrase stays out of state
#     (and, with K8S_TUNNEL_ENGINE_SECRETS=1, out of plan output too)
#   - re-plan is clean; with the bastion down, plan fails (no direct
#     fallback); with a bastion on another port, plan is still clean (via is
#     not diffed); destroy goes through the tunnel and removes everything.
. "$(dirname "$0")/lib/emu.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
need_cmd /usr/sbin/sshd
need_cmd python3
[ -x "$PLINTH" ] || fail "$PLINTH not built"

SSHD_DIR="$WORK/sshd"
SSHD_PID=""
SSHD2_PID=""
. "$HERE/lib/sshd_ctl.sh"
trap 'stop_sshd; [ -n "$SSHD2_PID" ] && kill "$SSHD2_PID" 2>/dev/null; cleanup' EXIT INT TERM
# sshd with debug logging (direct-tcpip requests are logged at DEBUG1).
cat > "$WORK/sshd-debug" <<'SH'
#!/bin/sh
exec /usr/sbin/sshd -o LogLevel=DEBUG1 "$@"
SH
chmod +x "$WORK/sshd-debug"
emu_start --op-scale 0.01
EMU_PORT=${EMU_URL##*:}
EMU_PORT=${EMU_PORT%%/*}
start_sshd "$WORK/sshd" "$WORK/sshd-debug"
FP=$(cat "$SSHD_DIR/host_fp")
USER_NAME=$(id -un)
# Any other valid fingerprint: the wrong key's.
WRONG_FP=$(ssh-keygen -l -E sha256 -f "$SSHD_DIR/wrong_ed25519.pub" | awk '{print $2}')
PASSPHRASE=test-passphrase

cd "$WORK" || exit 1
write_spec() { # $1 = the bastion's host key fingerprint
    KEY="$SSHD_DIR/user_ed25519" KEY_PASS=""
    [ -n "${2:-}" ] && KEY="$SSHD_DIR/pass_ed25519" KEY_PASS="private_key_passphrase = \"$2\","
    cat > platform.lua <<LUA
provider "gcp" { project = "k8s-test", region = "europe-west1" }
local gke = gcp.container_cluster "ml" { location = "europe-west1", initialNodeCount = 1 }
local cluster = {
  endpoint = gke.endpoint, ca_certificate = gke.masterAuth.clusterCaCertificate,
  id = gke.id, name = gke.name, location = gke.location, self_link = gke.selfLink,
}
local bastion = {
  host = "127.0.0.1", port = $PORT, user = "$USER_NAME",
  private_key_file = "$KEY", $KEY_PASS
  host_key_sha256 = "$1",
}
k8s.namespace "tunnelled" { cluster = cluster, via = bastion }
k8s.object "web" {
  cluster = cluster, via = bastion,
  apiVersion = "apps/v1", kind = "Deployment",
  metadata = { name = "web", namespace = "tunnelled", labels = { app = "web" } },
  spec = {
    replicas = 2,
    selector = { matchLabels = { app = "web" } },
    template = {
      metadata = { labels = { app = "web" } },
      spec = { containers = { { name = "web", image = "nginx:1.27" } } },
    },
  },
}
k8s.manifest "conf" {
  cluster = cluster, via = bastion, namespace = "tunnelled",
  yaml = [[
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: tunnelled
]],
}
LUA
}
P="$PLINTH --no-color"
direct_tcpip() { grep -c "direct_tcpip.*target 127.0.0.1 port $EMU_PORT\b" "$SSHD_DIR/sshd.log" 2>/dev/null; }

# A wrong host key for the bastion: the host key error, no k8s object applied.
write_spec "$WRONG_FP"
expect_rc 1 $P apply --auto-approve
grep -q "HOST KEY MISMATCH" last.out last.err || fail "wrong host key: $(cat last.out last.err)"
grep -q "ssh tunnel to the Kubernetes API 127.0.0.1:$EMU_PORT via $USER_NAME@127.0.0.1:$PORT" last.out last.err ||
    fail "tunnel error does not say which tunnel: $(grep -i 'error' last.out last.err)"
expect_rc 0 $P state list
grep -q "gcp.container_cluster.ml" last.out || fail "cluster not applied: $(cat last.out)"
[ "$(direct_tcpip)" = 0 ] || fail "direct-tcpip channel opened despite the wrong host key"
expect_rc 0 $P kubeconfig gcp.container_cluster.ml
SERVER=$(awk '/server:/ {print $2; exit}' last.out)
case "$SERVER" in "$EMU_URL"/k8s/*) ;; *) fail "kubeconfig server: $(cat last.out)" ;; esac
code() { curl -s -o "$WORK/curl.out" -w '%{http_code}' "$SERVER$1"; }
[ "$(code /api/v1/namespaces/tunnelled)" = 404 ] || fail "namespace exists after the failed apply: $(cat curl.out)"
[ "$(code /apis/apps/v1/namespaces/tunnelled/deployments/web)" = 404 ] || fail "deployment exists after the failed apply"
[ "$(code /api/v1/namespaces/tunnelled/configmaps/settings)" = 404 ] || fail "configmap exists after the failed apply"

# The right host key: everything applied, through the tunnel.
write_spec "$FP"
expect_rc 0 $P apply --auto-approve
grep -q "Apply complete: 3 added" last.out || fail "apply: $(cat last.out last.err)"
n=$(direct_tcpip)
[ "$n" -ge 1 ] || fail "no direct-tcpip channel to the emulator's port $EMU_PORT in sshd's log: $(grep -i tcpip "$SSHD_DIR/sshd.log" | head)"
[ "$(code /api/v1/namespaces/tunnelled)" = 200 ] || fail "namespace not applied: $(cat curl.out)"
[ "$(code /apis/apps/v1/namespaces/tunnelled/deployments/web)" = 200 ] || fail "deployment not applied: $(cat curl.out)"
[ "$(code /api/v1/namespaces/tunnelled/configmaps/settings)" = 200 ] || fail "configmap not applied: $(cat curl.out)"
grep -q '"tunnelled"' curl.out || fail "configmap data: $(cat curl.out)"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan not clean: $(cat last.out)"
[ "$(direct_tcpip)" -gt "$n" ] || fail "re-plan did not read through the tunnel"

# The bastion down: reads fail (they never bypass the tunnel) ...
stop_sshd
expect_rc 1 $P plan
grep -q "ssh tunnel to the Kubernetes API 127.0.0.1:$EMU_PORT via $USER_NAME@127.0.0.1:$PORT: .*Connection refused" \
    last.out last.err || fail "plan without bastion: $(cat last.out last.err)"
# ... and work again once it is back.
"$WORK/sshd-debug" -D -e -f "$SSHD_DIR/sshd_config" -E "$SSHD_DIR/sshd.log" &
SSHD_PID=$!
i=0
until listening "$PORT"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "sshd did not restart on port $PORT"; sleep 0.1
done
n=$(direct_tcpip)
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan with the bastion back: $(cat last.out)"
[ "$(direct_tcpip)" -gt "$n" ] || fail "re-plan did not read through the restarted bastion"

# Another bastion (other port and host key): via changed, yet nothing to
# change (not diffed), and reads go through the new one.
FIRST_PID=$SSHD_PID FIRST_DIR=$SSHD_DIR
start_sshd "$WORK/sshd2" "$WORK/sshd-debug"
SSHD2_PID=$SSHD_PID SSHD_PID=$FIRST_PID
write_spec "$(cat "$SSHD_DIR/host_fp")"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan after the bastion moved: $(cat last.out)"
[ "$(direct_tcpip)" -ge 1 ] || fail "no direct-tcpip through the new bastion"
expect_rc 0 $P apply --auto-approve

expect_rc 0 $P destroy --auto-approve
grep -q "Destroy complete" last.out || fail "destroy: $(cat last.out last.err)"
[ "$(code /api/v1/namespaces/tunnelled)" = 404 ] || fail "namespace left after destroy: $(cat curl.out)"
[ "$(code /api/v1/namespaces/tunnelled/configmaps/settings)" = 404 ] || fail "configmap left after destroy"
expect_rc 0 $P state list
[ -s last.out ] && fail "state not empty after destroy: $(cat last.out)"

# A key with a passphrase (inside via: sensitive).  Destroy of a resource
# reads its last applied body from state, where the passphrase is hashed,
# and the plan's "+ via = {...}" line shows it, until the engine masks
# secrets nested in a created resource's top-level values and destroys with
# the spec's body: K8S_TUNNEL_ENGINE_SECRETS=1 checks those too.
write_spec "$(cat "$SSHD_DIR/host_fp")" "$PASSPHRASE"
expect_rc 0 $P apply --auto-approve
grep -q "Apply complete: 4 added" last.out || fail "apply with a passphrase key: $(cat last.out last.err)"
expect_rc 0 $P kubeconfig gcp.container_cluster.ml
SERVER=$(awk '/server:/ {print $2; exit}' last.out) # a new cluster
[ "$(code /api/v1/namespaces/tunnelled/configmaps/settings)" = 200 ] || fail "configmap not applied: $(cat curl.out)"
grep -rq "$PASSPHRASE" .plinth && fail "passphrase stored in state: $(grep -rl "$PASSPHRASE" .plinth)"
if [ "${K8S_TUNNEL_ENGINE_SECRETS:-1}" = 1 ]; then
    grep -q "$PASSPHRASE" last.out last.err && fail "passphrase printed: $(grep -h "$PASSPHRASE" last.out last.err)"
    expect_rc 0 $P destroy --auto-approve
    grep -q "Destroy complete" last.out || fail "destroy with a passphrase key: $(cat last.out last.err)"
    [ "$(code /api/v1/namespaces/tunnelled)" = 404 ] || fail "namespace left after destroy: $(cat curl.out)"
fi
echo "k8s_tunnel: ok"
