#!/bin/sh
# plan_commands.sh: the command-line holes of issue 11:
#   - plan --target of an address that matches nothing is an error naming
#     the closest addresses (it said "No changes");
#   - state list / show, output and graph read state only and need no
#     variable values;
#   - output NAME (and --raw) prints a sensitive output when named;
#   - a state records the spec that wrote it: another spec beside it is
#     refused (with --env / --reuse-state as the way out) instead of
#     planning to destroy the first spec's resources.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.01
cd "$WORK" || exit 1
cat > one.lua <<'EOF'
provider "gcp" { project = "cmd-proj", region = "europe-west1" }
local pw = var("db_password", { type = "string", sensitive = true })
local b = gcp.storage_bucket "data" { name = "cmd-data", location = "EU" }
gcp.storage_bucket "logs" { name = "cmd-logs", location = "EU" }
output("bucket", b.name)
output("password", pw, { sensitive = true })
EOF
P="$PLINTH --spec one.lua --no-color"
expect_rc 0 $P --var db_password=hunter2-secret apply --auto-approve

# --target matching nothing
expect_rc 1 $P --var db_password=x plan --target gcp.storage_bucket.dat
grep -q "gcp.storage_bucket.dat: --target matches no resource; the closest addresses are: gcp.storage_bucket.data" last.err ||
    fail "target error: $(cat last.out last.err)"
expect_rc 0 $P --var db_password=x plan --target gcp.storage_bucket.data

# state-only commands need no variables
expect_rc 0 $P state list
grep -q "gcp.storage_bucket.data" last.out || fail "state list: $(cat last.out last.err)"
expect_rc 0 $P state show gcp.storage_bucket.data
expect_rc 0 $P output
grep -q 'bucket = "cmd-data"' last.out || fail "output: $(cat last.out)"
grep -q "hunter2" last.out && fail "output lists a sensitive value: $(cat last.out)"
expect_rc 0 $P graph
grep -q '"gcp.storage_bucket.data"' last.out || fail "graph: $(cat last.out)"

# a sensitive output by name
expect_rc 0 $P --var db_password=hunter2-secret output password
[ "$(cat last.out)" = "hunter2-secret" ] || fail "output password: $(cat last.out last.err)"
expect_rc 0 $P --var db_password=hunter2-secret output password --raw
[ "$(cat last.out)" = "hunter2-secret" ] || fail "output --raw: $(cat last.out)"
expect_rc 1 $P output password
grep -q 'variable "db_password" has no value' last.err || fail "missing variable: $(cat last.err)"
grep -q "hunter2" .plinth/default.state.json && fail "the password is in the state in plaintext"

# another spec beside it does not silently share the state
cat > two.lua <<'EOF'
provider "gcp" { project = "cmd-proj", region = "europe-west1" }
gcp.storage_bucket "other" { name = "cmd-other", location = "EU" }
EOF
expect_rc 1 $PLINTH --spec two.lua --no-color plan
grep -q "written by one.lua" last.err || fail "state owner: $(cat last.out last.err)"
grep -q -- "--env NAME" last.err || fail "no way out named: $(cat last.err)"
expect_rc 0 $PLINTH --spec two.lua --no-color --env two plan
grep -q "1 to create, 0 to update, 0 to replace, 0 to destroy" last.out || fail "--env plan: $(cat last.out)"
expect_rc 0 $PLINTH --spec two.lua --no-color --reuse-state plan
grep -q "to destroy" last.out || fail "--reuse-state plan: $(cat last.out)"
reqcheck_log
echo "plan_commands: ok"
