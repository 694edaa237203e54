#!/bin/sh
# demo.sh: what `make demo` runs (after a parallel build): brings the local
# cloud up (`plinth local up`: an emulator that stays up, state and data
# under .plinth/local/), applies platform.lua to it from nothing, shows
# that a second plan has no changes, and prints what to try next.
set -e
cd "$(dirname "$0")/.."
P=bin/plinth
$P local down > /dev/null
rm -rf .plinth/local
echo "==> plinth local up"
$P local up | head -1
echo
echo "==> plinth --local apply --auto-approve (platform.lua)"
$P --local apply --auto-approve
echo
echo "==> plinth --local plan --detailed-exitcode (expect: No changes)"
$P --local plan --detailed-exitcode
$P --local kubeconfig > .plinth/local/kubeconfig
url=$($P local status | sed -n 's/^The local cloud is up: \([^ ]*\).*/\1/p')
cat <<TXT

==> The local cloud stays up at $url. Try:
  export KUBECONFIG=$(pwd)/.plinth/local/kubeconfig    # written by: $P --local kubeconfig
  kubectl get pods -A
  kubectl get deploy,crd -A
  $P local status                      # the exports that point gcloud at it, e.g.
  export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1 CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=$url/container/
  gcloud container clusters list --project plinth-demo
  $P local down                        # stop it (kubectl then gets connection refused)
TXT
