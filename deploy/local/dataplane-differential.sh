#!/usr/bin/env bash
# The packet-level differential: each scenario runs against this machine's kernel (kernel-oracle) and, with the same
# flows and sockets, through `actornat dataplane` with a fresh one-node ActorNat cluster as the router's NAT
# (`actornat simulate --dataplane`); `compare` judges ours against the kernel's.
#
#   deploy/local/dataplane-differential.sh [--golden] SCENARIO.json...
#     --golden   compare against ORACLE/golden/NAME.json where it exists instead of running the kernel
#
# Environment: ORACLE_DIR (default: ../shared/oracle beside the repository), ACTORNAT_BIN (default: built by
# cluster.sh), LOG_DIR (default: a new temporary directory). Needs root. Prints "ok NAME" / "FAIL NAME" per scenario and
# a summary; exits 1 if any failed.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORACLE="${ORACLE_DIR:-$REPO/../shared/oracle}"
LOG="${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/actornat-dpdiff.XXXXXX")}"
RUN="$LOG/run"
golden=0
[[ "${1:-}" == --golden ]] && { golden=1; shift; }
mkdir -p "$LOG"
pass=0 fail=0
for scenario in "$@"; do
  name=$(basename "$scenario" .json)
  kernel="$LOG/kernel-$name.json"
  if (( golden )) && [[ -f "$ORACLE/golden/$name.json" ]]; then
    kernel="$ORACLE/golden/$name.json"
  elif ! python3 "$ORACLE/kernel-oracle" --max-time 240 "$scenario" > "$kernel" 2> "$LOG/kernel-$name.err"; then
    echo "FAIL $name: kernel-oracle failed: $(tail -n 3 "$LOG/kernel-$name.err")"; fail=$((fail + 1)); continue
  fi
  rm -rf "$RUN"
  url=$(ACTORNAT_RUN_DIR="$RUN" "$REPO/deploy/local/cluster.sh" up 1 2>"$LOG/cluster-$name.err" | awk '/^node/{print $3}')
  if [[ -z "$url" ]]; then echo "FAIL $name: the node did not start: $(tail -n 3 "$LOG/cluster-$name.err")"; fail=$((fail + 1)); continue; fi
  bin="${ACTORNAT_BIN:-$RUN/bin/actornat}"
  if ! ORACLE_DIR="$ORACLE" "$bin" simulate "$scenario" --dataplane --target "$url" > "$LOG/dataplane-$name.json" 2> "$LOG/dataplane-$name.err"; then
    echo "FAIL $name: simulate --dataplane failed: $(tail -n 3 "$LOG/dataplane-$name.err")"; fail=$((fail + 1))
  elif python3 "$ORACLE/compare" -q "$kernel" "$LOG/dataplane-$name.json" > "$LOG/compare-$name.txt"; then
    echo "ok   $name: $(tail -n 1 "$LOG/compare-$name.txt")"; pass=$((pass + 1))
  else
    echo "FAIL $name:"; cat "$LOG/compare-$name.txt"; fail=$((fail + 1))
  fi
  ACTORNAT_RUN_DIR="$RUN" "$REPO/deploy/local/cluster.sh" down 2>/dev/null
done
echo "dataplane differential: $pass passed, $fail failed (logs: $LOG)"
(( fail == 0 ))
