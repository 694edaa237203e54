#!/bin/sh
# plan_equivalence.sh: the plan is the contract (issue 11).  Replays every
# scenario under tests/fixtures/equiv/ against one emulator and checks, for
# each apply, that the addresses written to (HTTP log lines with "addr" and
# a POST/PUT/PATCH/DELETE) are exactly those the saved plan lists with an
# action, and that each update writes the plan's changed paths
# (tests/tools/equivcheck.c).
#
# A scenario is a directory NN-name/ of steps, run in order:
#   NN.lua        the spec of step NN (copied to spec.lua)
#   NN.pre.sh     optional: run before the plan (sh, in the scenario's
#                 directory, with EMU_URL and PLINTH set): changes made
#                 outside plinth (drift), imports, ...
#   NN.args       optional: plan options (--refresh-only, --destroy,
#                 --target ADDR, --replace ADDR)
#   NN.expect     optional: lines "create=N", "update=N", "replace=N",
#                 "destroy=N" (the plan's summary), "writes=N"
#   NN.post.sh    optional: run after the apply (extra checks; exit non-0
#                 to fail)
# After the last step, a plan must show no changes (the apply converged).
# Each scenario uses its own project id (and globally unique names), so all
# share one emulator.  Run one: EQUIV_ONLY=NN-name sh tests/integration/plan_equivalence.sh
. "$(dirname "$0")/lib/emu.sh"
FIX=$(cd "$(dirname "$0")/../fixtures/equiv" && pwd)
CHECK="$TOOLS/equivcheck"
need_built "$CHECK"
emu_start --op-scale 0.01
export EMU_URL PLINTH

nsc=0
nsteps=0
for dir in "$FIX"/*/; do
    name=$(basename "$dir")
    [ -n "${EQUIV_ONLY:-}" ] && [ "$name" != "$EQUIV_ONLY" ] && continue
    sc="$WORK/$name"
    mkdir -p "$sc"
    cp -r "$dir"/* "$sc"/
    cd "$sc" || exit 1
    for spec in [0-9][0-9].lua; do
        n=${spec%.lua}
        cp "$spec" spec.lua
        P="$PLINTH --spec spec.lua --no-color"
        if [ -f "$n.pre.sh" ]; then
            sh "$n.pre.sh" > "$n.pre.out" 2>&1 || fail "$name/$n.pre.sh: $(cat "$n.pre.out")"
        fi
        args=$(cat "$n.args" 2> /dev/null)
        # shellcheck disable=SC2086
        expect_rc 0 $P plan $args --out "$n.plan"
        cp "$WORK/last.out" "$n.plan.txt"
        rm -f "$n.log"
        expect_rc 0 $P --http-log "$n.log" apply "$n.plan"
        cp "$WORK/last.out" "$n.apply.txt"
        touch "$n.log"
        "$CHECK" "$n.plan" "$n.log" > "$n.check" 2>&1 ||
            fail "$name step $n: apply differs from its plan:
$(cat "$n.check")
plan:
$(cat "$n.plan.txt")"
        if [ -f "$n.expect" ]; then
            while read -r kv; do
                [ -z "$kv" ] && continue
                k=${kv%%=*}
                want=${kv#*=}
                if [ "$k" = writes ]; then
                    got=$(sed -n 's/.* \([0-9]*\) writes.*/\1/p' "$n.check")
                else
                    got=$(tr -d ' \n' < "$n.plan" | sed -n "s/.*\"summary\":{[^}]*\"$k\":\([0-9]*\).*/\1/p")
                fi
                [ "$got" = "$want" ] || fail "$name step $n: expected $k=$want, got ${got:-nothing}
$(cat "$n.plan.txt")"
            done < "$n.expect"
        fi
        if [ -f "$n.post.sh" ]; then
            sh "$n.post.sh" > "$n.post.out" 2>&1 || fail "$name/$n.post.sh: $(cat "$n.post.out")"
        fi
        cat "$n.log" >> "$PLINTH_HTTP_LOG"
        nsteps=$((nsteps + 1))
    done
    last_args=$(cat "$n.args" 2> /dev/null)
    case "$last_args" in
    *--refresh-only* | *--target* | *--destroy*) ;; # what they leave out may still differ
    *)
        expect_rc 0 $P plan --detailed-exitcode
        ;;
    esac
    nsc=$((nsc + 1))
    cd "$WORK" || exit 1
done
[ "$nsc" -gt 0 ] || fail "no scenario ran"
reqcheck_log
echo "plan_equivalence: ok ($nsc scenarios, $nsteps applies)"
