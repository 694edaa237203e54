#!/bin/sh
# demo.sh: what `make demo` runs: apply platform.lua against a local emulator
# with visible progress, print the outputs, then show that a second plan
# has no changes.
set -e
cd "$(dirname "$0")/.."
rm -rf .plinth/local
echo "==> plinth --local apply --auto-approve (platform.lua)"
bin/plinth --local apply --auto-approve
echo
echo "==> plinth --local plan --detailed-exitcode (expect: No changes)"
bin/plinth --local plan --detailed-exitcode
