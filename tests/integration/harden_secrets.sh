#!/bin/sh
# harden_secrets.sh: planted secrets appear in no artefact (issue 13).  A
# sensitive variable given with --var, another from PLINTH_VAR_, a secret
# version's data and a sensitive output go through plan (text, --json, a
# saved plan, show, show --json), apply of the saved plan (the sensitive
# --var is required again and checked against the plan's hash), a second
# apply (state backup) and destroy; then the state, its backup and journal,
# every output, the saved plan, the HTTP log and the emulator log are
# searched for each secret in clear and base64.  A saved plan with a
# malformed field is refused naming it, never a crash.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.01 --log "$WORK/emu.log"
cd "$WORK" || exit 1
S1=Hunter2-planted-cli-7f3a
S2=Env-planted-secret-91bc
S3=Data-planted-secret-e44d
cat > sec.lua <<EOF
provider "gcp" { project = "sec-proj", region = "europe-west1" }
local pw = var("db_password", { type = "string", sensitive = true })
local tok = var("api_token", { type = "string", sensitive = true })
local s = gcp.secret "db" {}
gcp.secret_version "db" { secret = s.name, secret_data = pw .. "/" .. tok .. "/$S3" }
output("conn", "postgres://u:" .. pw .. "@db", { sensitive = true })
EOF
export PLINTH_VAR_api_token="$S2"
P="$PLINTH --spec sec.lua --no-color --http-log $WORK/http.log"
expect_rc 0 $P --var db_password=$S1 plan --out pr.plan
cp last.out plan.txt; cp last.err plan.err
expect_rc 0 $P --var db_password=$S1 plan --json
cp last.out plan.json
expect_rc 0 $P show pr.plan
cp last.out show.txt
expect_rc 0 $P show --json pr.plan
cp last.out show.json

# The saved plan holds a hash of the sensitive --var, so apply needs it again.
expect_rc 1 $P apply pr.plan
grep -q 'variable "db_password"' last.err || fail "apply without the sensitive value: $(cat last.out last.err)"
expect_rc 1 $P --var db_password=wrong-value apply pr.plan
grep -q "differs from the planned one" last.err || fail "apply with another value: $(cat last.out last.err)"
expect_rc 0 $P --var db_password=$S1 apply pr.plan
cp last.out apply.txt; cp last.err apply.err
expect_rc 0 $P --var db_password=$S1 output
cp last.out output.txt
expect_rc 0 $P --var db_password=$S1 apply --auto-approve
cp last.out apply2.txt
expect_rc 0 $P --var db_password=$S1 state show gcp.secret_version.db
cp last.out stateshow.txt
cp -r .plinth plinth-dir

for s in $S1 $S2 $S3; do
    b64=$(printf '%s' "$s" | base64)
    for f in pr.plan plan.txt plan.err plan.json show.txt show.json apply.txt apply.err output.txt apply2.txt \
        stateshow.txt http.log emu.log $(find plinth-dir -type f); do
        [ -f "$f" ] || continue
        grep -qF "$s" "$f" && fail "secret $s in clear in $f: $(grep -F "$s" "$f" | head -2 | cut -c1-200)"
        grep -qF "$b64" "$f" && fail "secret $s (base64) in $f"
    done
done
# the artefacts were really produced
[ -s http.log ] && [ -s emu.log ] && [ -s plinth-dir/default.state.json ] || fail "missing artefacts"
ls plinth-dir/*.backup > /dev/null 2>&1 || fail "no state backup to search"
grep -q addVersion emu.log || fail "emulator log has no secret version request"

# Malformed saved plans: refused naming the field, never a crash.
python3 - pr.plan <<'PY' || fail "making malformed plans"
import json, sys
p = json.load(open(sys.argv[1]))
cases = {
    "vars-int": ("vars", [1]),
    "vars-obj": ("vars", [{"a": 1}]),
    "vars-noeq": ("vars", ["justaname"]),
    "serial": ("serial", "7"),
    "spec": ("spec", 5),
    "hash": ("spec_hash", "abc"),
    "plan": ("plan", []),
    "changes": ("plan", {"changes": [5]}),
    "targets": ("targets", [None]),
    "sens": ("sensitive_vars", {"db_password": {"salt": "x"}}),
    "format": ("plinth_plan", 99),
}
for name, (k, v) in cases.items():
    q = dict(p); q[k] = v
    json.dump(q, open("bad-%s.plan" % name, "w"))
open("bad-dup.plan", "w").write(json.dumps(p)[:-1] + ', "serial": 1}')
open("bad-trunc.plan", "w").write(json.dumps(p)[:100])
PY
for f in bad-*.plan; do
    for cmd in "apply $f" "show $f" "show --json $f"; do
        $P --var db_password=$S1 $cmd > bad.out 2> bad.err
        rc=$?
        [ $rc = 1 ] || fail "$cmd: exit $rc (want 1): $(cat bad.err | head -3)"
        grep -q "$f" bad.err || fail "$cmd: error does not name the file: $(cat bad.err)"
    done
done
$P --var db_password=$S1 apply bad-vars-int.plan 2> bad.err
grep -q 'vars\[0\]: expected a string, found an integer' bad.err || fail "vars error: $(cat bad.err)"

expect_rc 0 $P --var db_password=$S1 destroy --auto-approve
reqcheck_log
echo "harden_secrets: ok"
