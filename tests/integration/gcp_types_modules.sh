#!/bin/sh
# gcp_types_modules.sh: the modules over the newer GCP types: ml_platform's
# optional services part adds exactly the dns (zone), observability
# (topic, channel, three log-based metrics with their alert policies, the
# error sink) and ci_identity (pool, provider, deploy account, its grant)
# resources, and each part is left out when its input is not set.
. "$(dirname "$0")/lib/emu.sh"
[ -x "$PLINTH" ] || fail "$PLINTH not built"
case "$PLINTH" in /*) ;; *) PLINTH=$(pwd)/$PLINTH ;; esac
MODS=$(pwd)/modules
count() { # count SERVICES-LUA: resources of ml_platform with that services input
    printf 'provider "gcp" { project = "mp", region = "europe-west1" }\nlocal p = module "ml" { source = "ml_platform", project = "mp", region = "europe-west1", %s }\n' "$1" > "$WORK/spec.lua"
    (cd "$WORK" && PLINTH_MODULES="$MODS" "$PLINTH" --spec spec.lua validate) > "$WORK/out" 2>&1 || fail "validate: $(cat "$WORK/out")"
    sed -n 's/^The spec is valid: \([0-9]*\) resources.*/\1/p' "$WORK/out"
}
base=$(count "")
all=$(count 'services = { domain = "ml.internal.", alert_email = "a@example.com", ci_repository = "org/repo", ci_branch = "main" }')
dns=$(count 'services = { domain = "ml.internal." }')
ci=$(count 'services = { ci_repository = "org/repo" }')
[ -n "$base" ] || fail "no resource count"
[ $((all - base)) = 14 ] || fail "services added $((all - base)) resources, want 14 (1 dns + 9 observability + 4 ci)"
[ $((dns - base)) = 1 ] || fail "domain alone added $((dns - base)), want 1"
[ $((ci - base)) = 4 ] || fail "ci_repository alone added $((ci - base)), want 4"
# a wrong ci value is refused by name
printf 'provider "gcp" { project = "mp", region = "europe-west1" }\nmodule "ci" { source = "ci_identity", name = "x", repository = "o/r", ci = "jenkins" }\n' > "$WORK/spec.lua"
(cd "$WORK" && PLINTH_MODULES="$MODS" "$PLINTH" --spec spec.lua validate) > "$WORK/out" 2>&1 && fail "ci = jenkins accepted"
grep -q "module ci_identity: input 'ci' must be one of github, gitlab" "$WORK/out" || fail "bad ci: $(cat "$WORK/out")"
echo "gcp_types_modules: ok"
