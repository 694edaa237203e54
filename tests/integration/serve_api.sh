#!/bin/sh
# serve_api.sh: `plinth serve` through its JSON API against the emulator
# (issue 19, acceptance 1 and 3): a requester asks for an artifact_registry
# environment -> planned with the repository in the plan -> the requester's
# own approval is refused -> the server restarts and the request is still
# planned -> an approver approves -> applied, the repository exists, outputs
# shown -> destroy -> destroyed, the repository is gone.  Unauthenticated
# calls get 401, bad inputs 400 naming the field, CSRF and self-approval
# rules hold, the audit log records who did what, a TTL destroys an
# environment by itself, and 20 environments requested at once are all
# planned and applied with no lost request.
. "$(dirname "$0")/lib/emu.sh"
. "$(dirname "$0")/lib/skip.sh"
need_cmd curl
need_cmd python3
emu_start --op-scale 0.05
cat > "$WORK/users.json" << 'EOF'
{"users": [
  {"name": "ana", "token": "ana-token-0123456789", "roles": ["requester"]},
  {"name": "bo", "token": "sha256:e3ca6a1fa7fb4c36f3cfbd3b38d4c5d1e7a1f6c1b0b91fbe2c1e0a62f6d3d2a0", "roles": ["approver"]},
  {"name": "cy", "token": "cy-token-0123456789ab", "roles": ["admin"]}
]}
EOF
# bo's token is stored as a hash: compute it for the file.
BO=bo-token-0123456789ab
h=$(printf %s "$BO" | sha256sum | cut -d' ' -f1)
sed -i "s/sha256:[0-9a-f]*/sha256:$h/" "$WORK/users.json"
A="Authorization: Bearer ana-token-0123456789"
B="Authorization: Bearer $BO"
C="Authorization: Bearer cy-token-0123456789ab"
SRV_PID=""
serve_start() {
    rm -f "$WORK/srv.fifo"
    mkfifo "$WORK/srv.fifo"
    "$PLINTH" serve --listen 127.0.0.1:0 --users "$WORK/users.json" --data "$WORK/data" \
        --var project=plinth-demo "$@" > "$WORK/srv.fifo" 2>> "$WORK/srv.err" &
    SRV_PID=$!
    exec 8< "$WORK/srv.fifo"
    read -r line <&8 || fail "serve did not start: $(cat "$WORK/srv.err")"
    URL=${line##* }
}
serve_stop() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2> /dev/null && wait "$SRV_PID" 2> /dev/null
    SRV_PID=""
}
trap 'serve_stop; cleanup' EXIT INT TERM
# call METHOD PATH AUTH [BODY] -> body in $WORK/r.json, status in $code
call() {
    if [ -n "${4:-}" ]; then
        code=$(curl -s -o "$WORK/r.json" -w '%{http_code}' -X "$1" "$URL$2" -H "$3" -H 'Content-Type: application/json' -d "$4")
    else
        code=$(curl -s -o "$WORK/r.json" -w '%{http_code}' -X "$1" "$URL$2" -H "$3")
    fi
}
jget() { python3 -c "import json,sys; d=json.load(open('$WORK/r.json')); print($1)" 2> /dev/null; }
# wait_status ID STATUS: polls until the environment has STATUS (60 s at most).
wait_status() {
    i=0
    while [ $i -lt 300 ]; do
        call GET "/api/environments/$1" "$A"
        s=$(jget 'd["status"]')
        [ "$s" = "$2" ] && return 0
        case "$s" in failed) fail "$1 failed: $(cat "$WORK/r.json")" ;; esac
        sleep 0.2
        i=$((i + 1))
    done
    fail "$1 did not reach $2 (is $s): $(cat "$WORK/r.json")"
}
REPO="$EMU_URL/artifactregistry/v1/projects/plinth-demo/locations/europe-west1/repositories"

serve_start
# 401 without a token, or with a wrong one.
call GET /api/environments "X-None: 1"
[ "$code" = 401 ] || fail "no token: $code"
call GET /api/catalog "Authorization: Bearer wrong-token-000000000"
[ "$code" = 401 ] || fail "wrong token: $code"
# The catalogue lists artifact_registry with its inputs.
call GET /api/catalog "$A"
[ "$code" = 200 ] || fail "catalog: $code"
jget '[m for m in d if m["name"]=="artifact_registry"][0]["inputs"]' | grep -q "'name': 'location'" ||
    fail "catalog lacks artifact_registry's inputs: $(cat "$WORK/r.json")"
jget '[m for m in d if m["name"]=="artifact_registry"][0]["outputs"]' | grep -q url || fail "catalog lacks outputs"
# Bad inputs: 400 naming the field.
call POST /api/environments "$A" '{"name":"x1","module":"artifact_registry","inputs":{"location":"europe-west1"}}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = name ] || fail "missing input: $code $(cat "$WORK/r.json")"
call POST /api/environments "$A" '{"name":"x1","module":"artifact_registry","inputs":{"name":"r","location":"eu","keep_recnt":3}}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = keep_recnt ] || fail "unknown input: $code"
call POST /api/environments "$A" '{"name":"x1","module":"artifact_registry","inputs":{"name":"r","location":"eu","keep_recent":"ten"}}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = keep_recent ] || fail "wrong type: $code"
call POST /api/environments "$A" '{"name":"Bad Name","module":"artifact_registry","inputs":{}}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = name ] || fail "bad env name: $code"
call POST /api/environments "$A" '{"name":"x1","module":"nope","inputs":{}}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = module ] || fail "unknown module: $code"
call POST /api/environments "$A" '{"name":"x1","module":"artifact_registry","inputs":{"name":"r","location":"eu"},"ttl":"soon"}'
[ "$code" = 400 ] && [ "$(jget 'd["error"]["field"]')" = ttl ] || fail "bad ttl: $code"
call POST /api/environments "$A" 'not json'
[ "$code" = 400 ] || fail "not json: $code"
# An approver may not request.
call POST /api/environments "$B" '{"name":"x2","module":"artifact_registry","inputs":{"name":"r","location":"eu"}}'
[ "$code" = 403 ] || fail "approver requested: $code"

# The request: planned, with the repository in the plan.  An input that
# tries to break out of the generated spec stays a string.
call POST /api/environments "$A" '{"name":"imgs","module":"artifact_registry","inputs":{"name":"team-imgs","location":"europe-west1","description":"x\"} os.exit(3) --\n"},"ttl":"72h"}'
[ "$code" = 201 ] || fail "request: $code $(cat "$WORK/r.json")"
ID=$(jget 'd["id"]')
[ "$(jget 'd["status"]')" = planning ] || fail "not planning"
wait_status "$ID" planned
jget 'd["plan"]["text"]' | grep -q '+ module.env.gcp.artifact_registry_repository.images' || fail "plan lacks the repository"
jget 'd["plan"]["summary"]' | grep -q 'Plan: 1 to create' || fail "summary: $(jget 'd["plan"]')"
jget 'd["plan"]["text"]' | grep -q 'os.exit(3)' || fail "hostile description not kept as text"
# Same name again: 409.
call POST /api/environments "$A" '{"name":"imgs","module":"artifact_registry","inputs":{"name":"r2","location":"europe-west1"}}'
[ "$code" = 409 ] || fail "duplicate name: $code"
# Own approval refused, for a requester and for an admin alike.
call POST "/api/environments/$ID/approve" "$A"
[ "$code" = 403 ] || fail "requester approved own: $code"
call POST /api/environments "$C" '{"name":"cys","module":"artifact_registry","inputs":{"name":"cy-imgs","location":"europe-west1"}}'
CID=$(jget 'd["id"]')
wait_status "$CID" planned
call POST "/api/environments/$CID/approve" "$C"
[ "$code" = 403 ] || fail "admin approved own request: $code"

# Restart: the request is still planned.
serve_stop
serve_start
call GET "/api/environments/$ID" "$A"
[ "$(jget 'd["status"]')" = planned ] || fail "after restart: $(cat "$WORK/r.json")"
# Cookie sign-in: ?token= sets an HttpOnly SameSite=Strict cookie and
# redirects without the token; a cookie call that changes state needs the
# CSRF header.
hdr=$(curl -s -D - -o /dev/null "$URL/?token=$BO")
echo "$hdr" | grep -qi '^set-cookie: plinth_session=[0-9a-f]*; Path=/; HttpOnly; SameSite=Strict' || fail "cookie: $hdr"
echo "$hdr" | grep -qi '^location: /' || fail "no redirect: $hdr"
echo "$hdr" | grep -qi "location:.*token" && fail "redirect keeps the token"
sid=$(echo "$hdr" | sed -n 's/^[Ss]et-[Cc]ookie: plinth_session=\([0-9a-f]*\);.*/\1/p')
code=$(curl -s -o "$WORK/r.json" -w '%{http_code}' -X POST "$URL/api/environments/$ID/approve" -H "Cookie: plinth_session=$sid")
[ "$code" = 403 ] || fail "cookie call without CSRF header: $code"
call GET "/api/environments/$ID" "$A"
[ "$(jget 'd["status"]')" = planned ] || fail "CSRF-less call changed state"
code=$(curl -s -o "$WORK/r.json" -w '%{http_code}' -X POST "$URL/api/environments/$ID/approve" \
    -H "Cookie: plinth_session=$sid" -H 'X-Plinth-CSRF: 1')
[ "$code" = 202 ] || fail "approve: $code $(cat "$WORK/r.json")"
wait_status "$ID" applied
[ "$(jget 'd["approved_by"]')" = bo ] || fail "approved_by"
jget 'd["outputs"]["url"]["value"]' | grep -q 'docker.pkg.dev/plinth-demo/team-imgs' || fail "outputs: $(jget 'd["outputs"]')"
[ "$(jget 'd["expires_at"] is not None')" = True ] || fail "no expiry after apply with ttl"
curl -sf "$REPO/team-imgs" > /dev/null || fail "repository missing after apply"
# Approving twice: 409.
call POST "/api/environments/$ID/approve" "$B"
[ "$code" = 409 ] || fail "second approval: $code"
# Only the requester (or an admin) destroys.
call DELETE "/api/environments/$ID" "$B"
[ "$code" = 403 ] || fail "approver destroyed another's environment: $code"
call DELETE "/api/environments/$ID" "$A"
[ "$code" = 202 ] || fail "destroy: $code"
wait_status "$ID" destroyed
[ "$(curl -s -o /dev/null -w '%{http_code}' "$REPO/team-imgs")" = 404 ] || fail "repository left after destroy"
# The event stream replays the run and ends at destroyed.
curl -s -N --max-time 20 "$URL/api/environments/$ID/events" -H "$A" > "$WORK/sse.txt"
grep -q '^event: status' "$WORK/sse.txt" && grep -q '"message":"destroyed"' "$WORK/sse.txt" &&
    grep -q '^id: ' "$WORK/sse.txt" || fail "event stream: $(tail -5 "$WORK/sse.txt")"
# The audit log has who did what; only admins read it.
call GET /api/audit "$A"
[ "$code" = 403 ] || fail "audit for a requester: $code"
call GET /api/audit "$C"
for a in "ana request" "bo approve" "ana destroy" "bo sign-in"; do
    jget '"\n".join(x["user"]+" "+x["action"] for x in d)' | grep -q "^$a" || fail "audit lacks '$a'"
done
# Tokens stay out of the records.
grep -aq "ana-token-0123456789\|$BO" "$WORK/data/serve.db" && fail "a token is in the database"

# Time to live: applied, then destroyed by the server itself.
call POST /api/environments "$A" '{"name":"short","module":"artifact_registry","inputs":{"name":"short-imgs","location":"europe-west1"},"ttl":"2s"}'
TID=$(jget 'd["id"]')
wait_status "$TID" planned
call POST "/api/environments/$TID/approve" "$B"
wait_status "$TID" applied
wait_status "$TID" destroyed
call GET "/api/environments/$TID" "$A"
jget '" ".join(e["message"] for e in d["events"] if e["type"]=="status")' | grep -q 'applied expired destroying destroyed' ||
    fail "ttl path: $(jget '[e["message"] for e in d["events"] if e["type"]=="status"]')"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$REPO/short-imgs")" = 404 ] || fail "expired repository left"

# 20 at once: all planned, all applied, nothing lost, no state conflict.
t0=$(date +%s.%N)
n=0
pids=""
while [ $n -lt 20 ]; do
    curl -s -o "$WORK/req$n.json" -X POST "$URL/api/environments" -H "$A" \
        -d "{\"name\":\"load$n\",\"module\":\"artifact_registry\",\"inputs\":{\"name\":\"load-$n\",\"location\":\"europe-west1\"}}" &
    pids="$pids $!"
    n=$((n + 1))
done
for p in $pids; do wait "$p"; done # not a bare wait: the server and emulator are children too
ids=""
for f in "$WORK"/req*.json; do ids="$ids $(python3 -c "import json; print(json.load(open('$f'))['id'])")" || fail "request lost: $(cat "$f")"; done
for i in $ids; do wait_status "$i" planned; done
t1=$(date +%s.%N)
for i in $ids; do call POST "/api/environments/$i/approve" "$B"; [ "$code" = 202 ] || fail "approve $i: $code"; done
for i in $ids; do wait_status "$i" applied; done
t2=$(date +%s.%N)
cnt=$(curl -s "$REPO?pageSize=1000" | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin).get("repositories",[]) if "/load-" in r["name"]))')
[ "$cnt" = 20 ] || fail "$cnt of 20 repositories exist"
grep -q "lock" "$WORK/srv.err" && fail "state conflicts: $(grep lock "$WORK/srv.err")"
python3 -c "print('serve_api: 20 environments: planned in %.1f s, applied %.1f s after approval' % ($t1 - $t0, $t2 - $t1))"
for i in $ids; do call DELETE "/api/environments/$i" "$A"; done
for i in $ids; do wait_status "$i" destroyed; done
cnt=$(curl -s "$REPO?pageSize=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("repositories",[])))')
[ "$cnt" = 0 ] || fail "$cnt repositories left"
serve_stop

# A restart in the middle of runs: a plan cut short is resumed, an apply cut
# short is reported as failed (its saved plan no longer matches the state)
# and can be planned again.  The runs are slowed by a wrapper so that the
# server is killed while they are in flight.
printf '#!/bin/sh\nsleep 4\nexec "%s" "$@"\n' "$PLINTH" > "$WORK/slow-plinth"
chmod +x "$WORK/slow-plinth"
serve_start --plinth "$WORK/slow-plinth"
call POST /api/environments "$A" '{"name":"cut","module":"artifact_registry","inputs":{"name":"cut-imgs","location":"europe-west1"}}'
KID=$(jget 'd["id"]')
sleep 1
kill -9 "$SRV_PID"; wait "$SRV_PID" 2> /dev/null; SRV_PID=""
serve_start
wait_status "$KID" planned
call GET "/api/environments/$KID" "$A"
jget '[e["type"] for e in d["events"]]' | grep -q recover || fail "no recover event"
serve_stop
serve_start --plinth "$WORK/slow-plinth"
call POST "/api/environments/$KID/approve" "$B"
sleep 1
kill -9 "$SRV_PID"; wait "$SRV_PID" 2> /dev/null; SRV_PID=""
sleep 5 # the orphaned run finishes on its own
serve_start
call GET "/api/environments/$KID" "$A"
[ "$(jget 'd["status"]')" = failed ] && jget 'd["error"]' | grep -q 'stopped during the apply' ||
    fail "cut apply not reported: $(cat "$WORK/r.json")"
call POST "/api/environments/$KID/plan" "$A"
[ "$code" = 202 ] || fail "re-plan: $code"
wait_status "$KID" planned
call DELETE "/api/environments/$KID" "$A"
wait_status "$KID" destroyed
serve_stop

# TLS: --tls-cert/--tls-key serve https; a client that verifies against
# the certificate gets in, one that does not know it is refused; the
# session cookie is Secure.
need_cmd openssl
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" > /dev/null 2>&1 || fail "openssl req"
serve_start --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
case "$URL" in https://*) ;; *) fail "TLS server URL: $URL" ;; esac
curl -s --cacert "$WORK/cert.pem" "$URL/api/me" -H "$A" | grep -q '"name":"ana"' || fail "https call with the CA"
curl -s -o /dev/null "$URL/healthz" && fail "an unverified TLS client got in"
curl -s --cacert "$WORK/cert.pem" -D - -o /dev/null "$URL/?token=$BO" | grep -qi 'set-cookie:.*; Secure' ||
    fail "cookie not Secure over TLS"
serve_stop
echo "serve_api: ok"
