#!/bin/sh
# gcp_auth.sh: every credential source gets a token from the emulator in
# --require-auth mode and plinth applies with it; an expired token is
# refreshed mid-run; a malformed key file gives a clear error; no token or
# key ever reaches the HTTP log (issue 4, acceptance 3).
. "$(dirname "$0")/lib/emu.sh"
cd "$WORK" || exit 1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2> /dev/null || fail "openssl"
python3 - <<'PY'
import json
pem = open("key.pem").read()
json.dump({"type": "service_account", "project_id": "auth-proj", "private_key_id": "k1",
           "private_key": pem, "client_email": "deployer@auth-proj.iam.gserviceaccount.com",
           "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}, open("sa.json", "w"))
json.dump({"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
           "refresh_token": "refresh-xyz", "quota_project_id": "auth-proj"}, open("user.json", "w"))
PY
cat > spec.lua <<'LUA'
provider "gcp" { project = "auth-proj", region = "europe-west1" }
for i = 1, 16 do gcp.storage_bucket("b" .. i) { name = "auth-bucket-" .. i .. "-" .. plinth.env, location = "EU" } end
LUA
export PLINTH_EMU_TRUSTED_KEYS="$WORK/sa.json" PLINTH_EMU_REFRESH_TOKENS=refresh-xyz PLINTH_EMU_TOKEN_TTL=3
emu_start --require-auth --latency 250
unset GOOGLE_APPLICATION_CREDENTIALS GOOGLE_OAUTH_ACCESS_TOKEN
export CLOUDSDK_CONFIG="$WORK/gcloud-empty" HOME="$WORK"
P="$PLINTH --spec spec.lua --no-color --parallelism 16"

# No credentials at all: the emulator refuses, and the error says so.
expect_rc 1 $P --env none apply --auto-approve
grep -q "401" last.err || fail "no credentials: $(cat last.err)"

# Service-account key: JWT -> token; tokens live 3 s and the apply takes
# longer, so the client must refresh mid-run.
GOOGLE_APPLICATION_CREDENTIALS="$WORK/sa.json" expect_rc 0 $P --parallelism 1 --env sa apply --auto-approve
n=$(grep -c '"url": *"[^"]*/oauth2/token' "$PLINTH_HTTP_LOG")
[ "$n" -ge 2 ] || fail "token was not refreshed mid-run ($n token requests)"

# Authorized user (refresh token), via GOOGLE_APPLICATION_CREDENTIALS and via
# gcloud's application-default credentials file.
GOOGLE_APPLICATION_CREDENTIALS="$WORK/user.json" expect_rc 0 $P --env user apply --auto-approve
mkdir -p "$WORK/gcloud-adc" && cp user.json "$WORK/gcloud-adc/application_default_credentials.json"
CLOUDSDK_CONFIG="$WORK/gcloud-adc" expect_rc 0 $P --env adc apply --auto-approve

# A plain access token.
tok=$(curl -sf -d grant_type=refresh_token -d client_id=cid -d client_secret=csecret -d refresh_token=refresh-xyz \
      "$EMU_URL/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
    fail "token endpoint"
GOOGLE_OAUTH_ACCESS_TOKEN="$tok" expect_rc 0 $P --env token plan

# A malformed key file.
echo '{"type": "service_account", "client_email": "x@y"' > bad.json
GOOGLE_APPLICATION_CREDENTIALS="$WORK/bad.json" expect_rc 1 $P --env bad plan
grep -q "bad.json" last.err || fail "malformed key: error does not name the file: $(cat last.err)"

# Nothing secret in the HTTP log.
for s in "$tok" refresh-xyz csecret "BEGIN PRIVATE KEY"; do
    grep -q -- "$s" "$PLINTH_HTTP_LOG" && fail "secret '$s' found in the HTTP log"
done
reqcheck_log
echo "gcp_auth: ok"
