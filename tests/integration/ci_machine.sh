#!/bin/sh
# ci_machine.sh: the interfaces CI tools read (issue 18, acceptance 2):
#  - plan/apply/destroy --json: one JSON object per line, version first,
#    planned changes, per-resource start/complete with elapsed time, the
#    change summary, outputs last; exit codes as without --json;
#  - show --json PLANFILE: Terraform's JSON plan format, checked by
#    lib/tfplan_schema.py (written from the format's documentation) on a
#    plan with creates, updates, a replacement, a deletion, a secret,
#    values known after apply and a module; the secret appears nowhere;
#  - drift: exit 0 when only the spec changed, 2 after a change made
#    outside plinth, with a drift_summary naming the resource.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05
lib="$(pwd)/tests/integration/lib"
cp tests/fixtures/ci/machine.lua "$WORK/platform.lua"
cp -r modules "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --no-color"
SECRET=s3cret-token-value
lines() { # lines FILE: every line is a JSON object with the common fields
    python3 - "$1" <<'PY' || fail "not JSON lines: $(head -c 600 "$1")"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
assert msgs and msgs[0]["type"] == "version" and msgs[0]["ui"], msgs[:1]
for m in msgs:
    for k in ("@level", "@message", "@module", "@timestamp", "type"):
        assert k in m, (k, m)
PY
}

expect_rc 2 $P plan --json --detailed-exitcode
lines last.out
python3 - last.out <<'PY' || fail "plan --json: $(cat last.out)"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
ch = [m["change"] for m in msgs if m["type"] == "planned_change"]
assert all(c["action"] == "create" for c in ch) and len(ch) >= 7, ch
mods = {c["resource"]["module"] for c in ch}
assert "module.net" in mods, mods
assert msgs[-1]["type"] == "change_summary" and msgs[-1]["changes"]["add"] == len(ch), msgs[-1]
PY

expect_rc 0 $P plan --out p1.plan
expect_rc 0 $P show --json p1.plan
cp last.out p1.json
expect_rc 0 python3 "$lib/tfplan_schema.py" p1.json
grep -q "$SECRET" p1.plan p1.json && fail "the secret is in the plan file or its JSON"
python3 - p1.json <<'PY' || fail "show --json (create): $(head -c 800 p1.json)"
import json, sys
d = json.load(open(sys.argv[1]))
rc = {r["address"]: r for r in d["resource_changes"]}
assert all(r["change"]["actions"] == ["create"] for r in rc.values())
sv = rc["gcp.secret_version.token"]["change"]
assert sv["after_sensitive"].get("secret_data") is True and "secret_data" not in sv["after"], sv
m = rc["gcp.storage_bucket_iam_member.jobs"]["change"]
assert m["after_unknown"].get("member") is True and m["after"]["role"] == "roles/storage.objectViewer", m
net = [r for r in rc.values() if r.get("module_address") == "module.net"]
assert net and all(r["address"].startswith("module.net.") for r in net), list(rc)
assert d["output_changes"]["token"]["after_sensitive"] is True and d["output_changes"]["token"]["after"] is None
assert d["output_changes"]["bucket"]["after"] == "tfj-data-one"
assert d["output_changes"]["network"]["after_unknown"] is True
pv = d["planned_values"]["root_module"]
assert {c["address"] for c in pv["child_modules"]} == {"module.net"}, pv.get("child_modules")
assert d["prior_state"]["values"]["root_module"]["resources"] == []
assert d["variables"]["token"]["value"] is None and d["variables"]["team"]["value"] == "ml"
PY

expect_rc 0 $P apply --json p1.plan
lines last.out
grep -q "$SECRET" last.out && fail "the secret is in the apply stream"
python3 - last.out <<'PY' || fail "apply --json: $(cat last.out)"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
types = [m["type"] for m in msgs]
starts = {m["hook"]["resource"]["addr"] for m in msgs if m["type"] == "apply_start"}
done = {m["hook"]["resource"]["addr"]: m["hook"] for m in msgs if m["type"] == "apply_complete"}
assert starts == set(done) and len(done) >= 7, (starts, done)
assert all(isinstance(h["elapsed_seconds"], float) and h["action"] == "create" for h in done.values())
assert types[-2:] == ["change_summary", "outputs"], types[-4:]
s = msgs[-2]["changes"]
assert s["operation"] == "apply" and s["add"] == len(done) and s["remove"] == 0, s
o = msgs[-1]["outputs"]
assert o["bucket"] == {"sensitive": False, "value": "tfj-data-one"} and o["token"] == {"sensitive": True}, o
PY

# Every kind of change in one plan.
V="--var bucket=tfj-data-two --var team=research --var sa_name=Workers --var extra=false"
expect_rc 0 $P $V plan --out p2.plan
expect_rc 0 $P show --json p2.plan
cp last.out p2.json
expect_rc 0 python3 "$lib/tfplan_schema.py" p2.json
grep -q "$SECRET" p2.json && fail "the secret is in the JSON plan"
python3 - p2.json <<'PY' || fail "show --json (changes): $(head -c 1500 p2.json)"
import json, sys
d = json.load(open(sys.argv[1]))
rc = {r["address"]: r for r in d["resource_changes"]}
data = rc["gcp.storage_bucket.data"]
assert data["change"]["actions"] == ["delete", "create"], data["change"]["actions"]
assert ["name"] in data["change"]["replace_paths"] and data["action_reason"] == "replace_because_cannot_update", data
assert data["change"]["before"]["name"] == "tfj-data-one" and data["change"]["after"]["name"] == "tfj-data-two"
assert rc["gcp.service_account.jobs"]["change"]["actions"] == ["update"]
assert rc["gcp.service_account.jobs"]["change"]["after"]["displayName"] == "Workers"
extra = rc["gcp.storage_bucket.extra"]
assert extra["change"]["actions"] == ["delete"] and extra["change"]["after"] is None, extra
assert extra["action_reason"] == "delete_because_no_resource_config", extra
assert rc["gcp.secret_version.token"]["change"]["actions"] == ["no-op"]
prior = {r["address"] for r in d["prior_state"]["values"]["root_module"]["resources"]}
assert "gcp.storage_bucket.extra" in prior, prior
sv = [r for r in d["prior_state"]["values"]["root_module"]["resources"] if r["address"] == "gcp.secret_version.token"][0]
assert "secret_data" not in sv["values"], sv
assert d["prior_state"]["values"]["outputs"]["token"] == {"sensitive": True}
assert d["output_changes"]["bucket"]["actions"] == ["update"], d["output_changes"]["bucket"]
PY

# Drift: a spec change is not drift; a change made outside plinth is.
expect_rc 0 $P drift
grep -q "No drift in default" last.out || fail "drift: $(cat last.out)"
curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"labels":{"team":"someone-else"}}' \
    "$EMU_URL/storage/storage/v1/b/tfj-data-one" > /dev/null || fail "label change outside plinth"
expect_rc 2 $P drift
grep -q "gcp.storage_bucket.data: labels.team changed" last.out || fail "drift: $(cat last.out)"
expect_rc 2 $P drift --json
lines last.out
python3 - last.out <<'PY' || fail "drift --json: $(tail -2 last.out)"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
d = msgs[-1]
assert d["type"] == "drift_summary" and d["drifted"] == 1 and d["resources"] == ["gcp.storage_bucket.data"], d
assert any(m["type"] == "resource_drift" and m["change"]["resource"]["addr"] == "gcp.storage_bucket.data" for m in msgs)
PY

# Errors keep exit 1 and arrive as diagnostics.
expect_rc 1 $P --var extra=maybe plan --json
lines last.out
grep -q '"type":"diagnostic"' last.out || fail "no diagnostic message: $(cat last.out)"

expect_rc 0 $P destroy --json --auto-approve
lines last.out
python3 - last.out <<'PY' || fail "destroy --json: $(tail -3 last.out)"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
s = msgs[-1]
assert s["type"] == "change_summary" and s["changes"]["operation"] == "destroy" and s["changes"]["remove"] >= 7, s
assert all(m["hook"]["action"] == "delete" for m in msgs if m["type"] == "apply_complete")
PY
reqcheck_log
echo "ci_machine: ok"
