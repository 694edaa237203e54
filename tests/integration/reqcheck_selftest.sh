#!/bin/sh
# reqcheck_selftest.sh: the request checker (tests/tools/reqcheck) flags
# exactly the bad requests of a small hand-written HTTP log: an unknown body
# field, a bad enum value, a path no method serves, an unknown query
# parameter and a wrong HTTP method (and, with --responses, a response body
# with an invented field); good requests (real and emulator URLs, custom
# verbs, uploads, oauth2/k8s lines) pass.
set -u
RC=${PLINTH_BUILD:-build}/tools/reqcheck
if [ ! -x "$RC" ]; then
    echo "reqcheck_selftest: $RC not built" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/http.log
E=http://127.0.0.1:8085

rec() { # api method url req_body
    printf '{"ts":"2026-01-01T00:00:00.000Z","api":"%s","method":"%s","url":"%s","status":200,"ms":1,"attempt":1,"req_body":%s,"resp_body":null}\n' "$1" "$2" "$3" "$4"
}

{
    # 1-8: good
    rec compute POST "https://compute.googleapis.com/compute/v1/projects/p/global/networks?requestId=abc" \
        '{"name":"n","autoCreateSubnetworks":false,"routingConfig":{"routingMode":"REGIONAL"}}'
    rec serviceusage POST "$E/serviceusage/v1/projects/p/services/compute.googleapis.com:enable" '{}'
    rec sqladmin GET "$E/sqladmin/sql/v1beta4/projects/p/instances/db1?alt=json" null
    rec secretmanager POST "$E/secretmanager/v1/projects/p/secrets/s:addVersion" \
        '{"payload":{"data":"<redacted>"}}'
    rec oauth2 POST "https://oauth2.googleapis.com/token" '{"grant_type":"x"}'
    rec k8s GET "$E/k8s/c1/api/v1/namespaces/default" null
    rec storage POST "$E/storage/upload/storage/v1/b/bkt/o?uploadType=media&name=a.txt" '"hello"'
    rec container POST "https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters" \
        '{"cluster":{"name":"c","nodePools":[{"name":"np","initialNodeCount":1,"config":{"machineType":"e2-medium"}}]}}'
    # 9: unknown field
    rec compute POST "$E/compute/compute/v1/projects/p/regions/r/subnetworks" \
        '{"name":"s","ipCidrRange":"10.0.0.0/24","secondaryIpRanges":[{"rangeNam":"x"}]}'
    # 10: bad enum
    rec compute POST "$E/compute/compute/v1/projects/p/global/firewalls" \
        '{"name":"f","network":"global/networks/n","direction":"SIDEWAYS"}'
    # 11: bad path
    rec compute GET "$E/compute/compute/v1/projects/p/global/netwrks/n" null
    # 12: bad query parameter
    rec compute GET "https://compute.googleapis.com/compute/v1/projects/p/global/networks/n?bogus=1" null
    # 13: a path that exists, with the wrong HTTP method
    rec compute PUT "$E/compute/compute/v1/projects/p/global/networks/n" '{"name":"n"}'
    # 14: a good request whose response invents a field (only --responses sees it)
    printf '%s\n' '{"api":"compute","method":"GET","url":"'"$E"'/compute/compute/v1/projects/p/global/networks/n","status":200,"req_body":null,"resp_body":{"name":"n","mtu":1460,"autoCreateSubnetwork":false}}'
    # 15-16: good: media upload without the emulator prefix, media download
    rec storage POST "/upload/storage/v1/b/bkt/o?alt=json&uploadType=multipart" '"--b\\r\\n"'
    rec storage GET "$E/storage/download/storage/v1/b/bkt/o/dir%2Fa.txt?generation=1&alt=media" null
} > "$log"

out=$("$RC" "$log")
rc=$?
fail=0
echo "$out"
if [ "$rc" -ne 1 ]; then
    echo "FAIL: reqcheck exited $rc, want 1"
    fail=1
fi
lines=$(printf '%s\n' "$out" | grep -c "^$log:")
if [ "$lines" -ne 5 ]; then
    echo "FAIL: $lines problem lines, want 5"
    fail=1
fi
expect() { # pattern
    if ! printf '%s\n' "$out" | grep -q -- "$1"; then
        echo "FAIL: no line matching: $1"
        fail=1
    fi
}
expect "^$log:9: POST .*secondaryIpRanges.0.rangeNam: unknown field 'rangeNam' (did you mean 'rangeName'?)"
expect "^$log:10: POST .*direction: invalid value 'SIDEWAYS'"
expect "^$log:11: GET .*no compute method matches GET /compute/v1/projects/p/global/netwrks/n"
expect "^$log:12: GET .*query parameter 'bogus' is not accepted by compute.networks.get"
expect "^$log:13: PUT .*no compute method matches PUT .*(the path takes GET, PATCH, DELETE)"
expect "^reqcheck: 16 requests checked, 5 problems"

# --responses also checks 2xx response bodies
rout=$("$RC" --responses "$log")
if ! printf '%s\n' "$rout" | grep -q "^$log:14: GET .*response Network: autoCreateSubnetwork: unknown field 'autoCreateSubnetwork' (did you mean 'autoCreateSubnetworks'?)"; then
    echo "FAIL: --responses did not flag the invented response field:"
    echo "$rout"
    fail=1
fi
if ! printf '%s\n' "$rout" | grep -q "^reqcheck: 16 requests checked, 6 problems"; then
    echo "FAIL: --responses summary wrong"
    fail=1
fi

# a clean log passes with exit 0
head -n 8 "$log" > "$tmp/good.log"
if ! "$RC" "$tmp/good.log" > "$tmp/good.out"; then
    echo "FAIL: good log rejected:"
    cat "$tmp/good.out"
    fail=1
fi
# a missing file is an error, not a pass
if "$RC" "$tmp/nonexistent.log" > /dev/null 2>&1; then
    echo "FAIL: missing log file accepted"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "reqcheck_selftest: ok"
exit "$fail"
