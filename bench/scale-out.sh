#!/bin/bash
# bench/scale-out.sh: new flows/s through 1, 2 and 3 nodes, each node held to the same CPU share by a cgroup quota.
#
#   bench/scale-out.sh [QUOTA_CORES=0.35] [SECONDS=10]        (as root: it creates cgroups)
#
# On a 2-core machine 3 × 0.35 cores leaves ~0.95 cores for the bench client and PostgreSQL, so the quotas, not the
# machine, limit the nodes (with 0.5 the machine did, and at 0.4 under load nodes starved of CPU missed heartbeats).
# For N = 1, 2, 3: `deploy/local/cluster.sh up N` with ACTORNAT_POSTGRES=1 (every node count on the same kind of journal,
# PostgreSQL, started fresh in its own run directory), each node's process moved into its own group of the cpu
# controller with cpu.cfs_quota_us = QUOTA_CORES × cpu.cfs_period_us (cgroup v1; cpu.max under cgroup v2), then
# `actornat bench new-flows --target a,b,c` spreads its streams over every node's ingress (one flow space). The bench
# client and PostgreSQL run outside the quotas. Node CPU per flow is the sum of the nodes' CPU time over the measured
# interval's flows; cores_per_node is that CPU time per node and second, which shows the quota holding (≤ QUOTA_CORES).
# Before measuring, BENCH_JIT_WARMUP seconds (default 15) of the same load without the quota (JIT), then BENCH_WARMUP
# seconds (default 5) under it.
# Prints one JSON line per node count, and last:
#   {"quota_cores": Q, "journal": "postgresql", "nodes": {"1": {"per_second": …, "node_cpu_us_per_flow": …}, …}, "ratio_3_to_1": …}
# BENCH_CONCURRENCY (default 18 streams: 6 per node at 3 nodes; with 6 in all, 3 quota-held nodes wait on each other
# more than they work, docs/PERFORMANCE.md "Issue 11, round 2") and BENCH_BATCH (default 128) set the load; ACTORNAT_BIN the build to run;
# SCALE_NODES the node counts to run (default "1 2 3"; the last line's ratio needs 1 and 3).
set -euo pipefail
QUOTA=${1:-0.35}; SECS=${2:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
CONC=${BENCH_CONCURRENCY:-18}; BATCH=${BENCH_BATCH:-128}; WARM=${BENCH_WARMUP:-5}; JIT=${BENCH_JIT_WARMUP:-15}
[ "$(id -u)" = 0 ] || { echo "scale-out.sh: run as root (cgroups)" >&2; exit 1; }
(( SECS >= 1 && SECS <= 60 )) || { echo "scale-out.sh: SECONDS must be 1..60" >&2; exit 1; }

# The cpu controller: cgroup v1 (a mount of the cpu controller) or v2 (cpu.max in the unified hierarchy).
cg_root=""; cg_v=""
for d in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do [ -f "$d/cpu.cfs_quota_us" ] && { cg_root=$d; cg_v=1; break; }; done
if [ -z "$cg_root" ] && [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  cg_root=/sys/fs/cgroup; cg_v=2; echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi
[ -n "$cg_root" ] || { echo "scale-out.sh: no cpu cgroup controller found (mount | grep cgroup)" >&2; exit 1; }
group=$cg_root/actornat-scale-$$

work=$(mktemp -d /tmp/actornat-scale.XXXXXX); chmod 755 "$work"   # PostgreSQL (its own user) keeps its data below
bin=${ACTORNAT_BIN:-}
if [ -z "$bin" ]; then
  dotnet build "$repo/src/ActorNat.Cli/ActorNat.Cli.csproj" -c Release -o "$work/bin" -nologo -v quiet >&2
  bin=$work/bin/actornat
fi
run=""
cleanup() {
  [ -n "$run" ] && ACTORNAT_RUN_DIR=$run ACTORNAT_BIN=$bin "$repo/deploy/local/cluster.sh" down >/dev/null 2>&1 || true
  for g in "$group"/*/; do [ -d "$g" ] && rmdir "$g" 2>/dev/null; done
  [ -d "$group" ] && rmdir "$group" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$group"
quota_group() {  # quota_group NAME: a group of the cpu controller for one node (its quota set by set_quota)
  local g=$group/$1; mkdir -p "$g"; echo "$g"
}
set_quota() {  # set_quota GROUP CORES: CORES = -1 lifts the quota
  local g=$1 q
  # One write of the whole value (the kernel refuses a second write of a lone newline).
  if [ "$cg_v" = 1 ]; then
    q=$(python3 -c "c = $2; print(-1 if c < 0 else int(c * $(cat "$g/cpu.cfs_period_us")))")
    echo "$q" > "$g/cpu.cfs_quota_us"
  else
    q=$(python3 -c "c = $2; print('max' if c < 0 else int(c * 100000))")
    echo "$q 100000" > "$g/cpu.max"
  fi
}
node_ticks() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }

results=()
for n in ${SCALE_NODES:-1 2 3}; do
  run=$work/run$n
  echo "scale-out: $n node(s), quota $QUOTA cores each, $SECS s" >&2
  out=$(ACTORNAT_RUN_DIR=$run ACTORNAT_BIN=$bin ACTORNAT_POSTGRES=1 "$repo/deploy/local/cluster.sh" up $n)
  urls=$(echo "$out" | awk '$1=="node"{print $3}' | paste -sd, -)
  pids=(); groups=()
  for i in $(seq 1 $n); do
    pid=$(cat "$run/node$i.pid"); pids+=("$pid")
    g=$(quota_group "n$n-node$i"); groups+=("$g")
    echo "$pid" > "$g/cgroup.procs"
  done
  # JIT warm-up, without the quota: a fresh node spends its first tens of seconds compiling (tiered JIT: ~half of a
  # node's CPU 15-25 s into a run held to 0.35 cores, docs/PERFORMANCE.md "Issue 11, round 3"), and N nodes pay it N
  # times, so counted under the quota it inflates the N-node figures most. A light load (2 streams of 32 per node),
  # its flows numbered apart from the measured run's (--first-flow), so every node count starts from an empty table.
  "$bin" bench new-flows --target "$urls" -c $((2 * n)) --batch 32 --duration "$JIT" --warmup 0 --json --quiet >/dev/null
  # Its entries go before the quota (each flushed entry is work for its node: counted under the quota it would fall
  # into the measured interval, on one node most), and the nodes settle: poll until they use < 0.08 cores each (60 s at most).
  "$bin" conntrack -F --target "${urls%%,*}" >/dev/null
  for _ in $(seq 60); do
    c0=$(node_ticks); sleep 1; c1=$(node_ticks)
    (( c1 - c0 <= 8 * n )) && break
  done
  for g in "${groups[@]}"; do set_quota "$g" "$QUOTA"; done
  # The measured run: WARMUP seconds under the quota, then SECONDS measured; the bench sums the nodes' CPU time
  # (--node-pid, all of them) over the measured interval only. WARMUP + SECONDS stay under UDP's 30 s unreplied
  # timeout, so no flow expires while measuring, at any node count.
  json=$("$bin" bench new-flows --target "$urls" -c "$CONC" --batch "$BATCH" --duration "$SECS" --warmup "$WARM" \
         --first-flow 5000000 --node-pid "$(IFS=,; echo "${pids[*]}")" --json --quiet)
  row=$(python3 - "$json" "$n" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); n = int(sys.argv[2])
cores = j["node_cpu_s"] / j["duration_s"] / n if j.get("node_cpu_s") is not None and j["duration_s"] else None
print(json.dumps({"nodes": n, "per_second": j["per_second"], "node_cpu_us_per_flow": j["node_cpu_us_per_verdict"],
                  "cores_per_node": round(cores, 3) if cores is not None else None,
                  "failed": j["failed"], "violations": j["violations"], "latency_p99_ms": j["latency_ms"]["p99"]}))
PY
)
  echo "$row"
  results+=("$row")
  ACTORNAT_RUN_DIR=$run ACTORNAT_BIN=$bin "$repo/deploy/local/cluster.sh" down >/dev/null 2>&1 || true
  run=""
done
python3 - "$QUOTA" "${results[@]}" <<'PY'
import json, sys
q = float(sys.argv[1]); rows = [json.loads(r) for r in sys.argv[2:]]
nodes = {str(r["nodes"]): {"per_second": r["per_second"], "node_cpu_us_per_flow": r["node_cpu_us_per_flow"]} for r in rows}
one = nodes.get("1", {}).get("per_second"); three = nodes.get("3", {}).get("per_second")
print(json.dumps({"quota_cores": q, "journal": "postgresql", "nodes": nodes, "ratio_3_to_1": round(three / one, 2) if one and three is not None else None}))
PY
