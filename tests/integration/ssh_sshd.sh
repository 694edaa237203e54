#!/bin/sh
# ssh_sshd.sh: ssh.exec end to end through bin/plinth against a throwaway
# OpenSSH server on loopback (lib/sshd.sh): plan, apply (script runs, env
# and files arrive, secrets stay out of output and state), a clean re-plan,
# a changed script_file re-runs as an update, a failing script reports its
# exit status and output tail, destroy runs the destroy_script.
. "$(dirname "$0")/lib/emu.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
need_cmd /usr/sbin/sshd
[ -x "$PLINTH" ] || fail "$PLINTH not built"

SSHD_DIR="$WORK/sshd"
SSHD_PID=""
. "$HERE/lib/sshd_ctl.sh"
trap 'stop_sshd; cleanup' EXIT INT TERM
start_sshd "$SSHD_DIR"
FP=$(cat "$SSHD_DIR/host_fp")
USER_NAME=$(id -un)

cd "$WORK" || exit 1
OUT="$WORK/remote"
mkdir -p "$OUT"
printf 'payload-v1\n' > payload.txt
cat > setup.sh <<SH
#!/bin/sh
echo "setup v1" >> "$OUT/setup.log"
echo "setup ran with MODE=\$MODE"
SH

write_spec() { # $1 = extra ssh.exec resource (Lua) appended
    cat > ssh.lua <<LUA
provider "ssh" {
  port = $PORT, user = "$USER_NAME",
  private_key_file = "$SSHD_DIR/user_ed25519", host_key_sha256 = "$FP",
}
local function with(t) t.host = "127.0.0.1" return t end
ssh.exec "hello" (with {
  script = "echo hello > $OUT/hello.txt; echo \"token=\$TOKEN plain=\$PLAIN\"; cat $OUT/sub/payload.txt",
  env = { PLAIN = "visible" },
  sensitive_env = { TOKEN = "tok-secret-8731" },
  files = { ["$OUT/sub/payload.txt"] = "payload.txt" },
  destroy_script = "echo bye > $OUT/destroyed.txt",
})
ssh.exec "setup" (with { script_file = "setup.sh", env = { MODE = "fast" } })
$1
LUA
}
write_spec ""
P="$PLINTH --spec ssh.lua --no-color"

expect_rc 0 $P validate
expect_rc 2 $P plan --detailed-exitcode
grep -q "2 to create" last.out || fail "plan: $(cat last.out)"

expect_rc 0 $P apply --auto-approve
[ "$(cat "$OUT/hello.txt")" = hello ] || fail "script did not run: $(cat last.out last.err)"
[ "$(cat "$OUT/sub/payload.txt")" = payload-v1 ] || fail "file not uploaded"
[ "$(grep -c 'setup v1' "$OUT/setup.log")" = 1 ] || fail "setup.sh did not run once"
grep -rq "tok-secret-8731" last.out last.err && fail "secret printed: $(grep -h tok-secret last.out last.err)"
if grep -rlq "tok-secret-8731" --exclude=ssh.lua --exclude-dir=remote --exclude-dir=sshd . ; then
    fail "secret stored: $(grep -rl tok-secret-8731 --exclude=ssh.lua --exclude-dir=remote --exclude-dir=sshd .)"
fi

expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes" last.out || fail "re-plan not clean: $(cat last.out)"

# A changed script file re-runs (update), the other resource is untouched.
sed -i 's/setup v1/setup v2/' setup.sh
expect_rc 2 $P plan --detailed-exitcode
grep -q "1 to update" last.out || fail "script change not planned as update: $(cat last.out)"
grep -q "script_sha256" last.out || fail "plan does not show which input changed: $(cat last.out)"
expect_rc 0 $P apply --auto-approve
grep -q 'setup v2' "$OUT/setup.log" || fail "changed script did not run"
[ "$(cat "$OUT/hello.txt")" = hello ] || fail "hello lost"

# A failing script: exit status and the tail of its output.
write_spec 'ssh.exec "broken" (with { script = "echo about-to-fail; echo oops >&2; exit 7" })'
expect_rc 1 $P apply --auto-approve
cat last.out last.err | grep -q "exit status 7" || fail "no exit status: $(cat last.out last.err)"
cat last.out last.err | grep -q "oops" || fail "no output tail: $(cat last.out last.err)"

# A wrong host key pin is refused before anything runs.
write_spec 'ssh.exec "pinned" (with { host_key_sha256 = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", script = "touch '"$OUT"'/pinned-ran" })'
expect_rc 1 $P apply --auto-approve
cat last.out last.err | grep -q "MISMATCH" || fail "no host key mismatch error: $(cat last.out last.err)"
[ ! -e "$OUT/pinned-ran" ] || fail "script ran despite the host key mismatch"

write_spec ""
expect_rc 0 $P destroy --auto-approve
[ "$(cat "$OUT/destroyed.txt" 2>/dev/null)" = bye ] || fail "destroy_script did not run: $(cat last.out last.err)"
echo "ok ssh_sshd"
