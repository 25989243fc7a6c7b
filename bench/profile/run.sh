#!/bin/bash
# bench/profile/run.sh: a profile of one cluster node under `actornat bench` (dotnet-counters and dotnet-trace).
#
#   bench/profile/run.sh MODE [SECONDS=15] [DATABASE=sqlite]     MODE: new-flows | established
#
# Starts a node (cluster backend; DATABASE sqlite = a fresh SQLite file, or memory) on a free loopback port, runs the
# bench (4 s warm-up, then SECONDS+4 s) while dotnet-counters collects (CPU, GC, thread pool,
# lock contention, exceptions) and dotnet-trace samples the CPU for SECONDS. Output in $OUT (default /tmp/perf-profile):
# counters.csv, trace.nettrace, trace.speedscope.json, bench.json, and a text summary by bench/profile/summarize.py.
# Tools: TOOLS (default /work/tools) holds dotnet-trace and dotnet-counters (`dotnet tool install --tool-path`).
set -euo pipefail
MODE=${1:?mode}; SECS=${2:-15}; DB=${3:-sqlite}
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
DLL=${ACTORNAT_DLL:-$repo/src/ActorNat.Cli/bin/Release/net10.0/actornat.dll}
TOOLS=${TOOLS:-/work/tools}; OUT=${OUT:-/tmp/perf-profile}/$MODE-$DB
rm -rf "$OUT"; mkdir -p "$OUT"
node_pid=""
trap '[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; true' EXIT INT TERM
database=memory; [ "$DB" = sqlite ] && database="sqlite:$OUT/node.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "$DLL" node --grpc 127.0.0.1:$port --metrics off --database "$database" >"$OUT/node.out" 2>"$OUT/node.err" &
node_pid=$!
for _ in $(seq 1 300); do grep -q "grpc=" "$OUT/node.out" 2>/dev/null && break; sleep 0.2; done
grep -q "grpc=" "$OUT/node.out" || { echo "node did not start" >&2; cat "$OUT/node.err" >&2; exit 1; }
B="dotnet $DLL bench $MODE --target http://127.0.0.1:$port -c 4 --batch 128 --json --quiet"
# One bench run (it configures the node; a second run would repeat the first one's flows): 4 s of warm-up, then
# the profile during the measured seconds.
$B --duration $((SECS + 4)) --warmup 4 >"$OUT/bench.json" &
bench=$!
sleep 6
"$TOOLS/dotnet-counters" collect -p "$node_pid" --refresh-interval 1 --format csv -o "$OUT/counters.csv" \
  --counters System.Runtime,Microsoft.AspNetCore.Hosting --duration 00:00:$(printf %02d "$SECS") >/dev/null &
cnt=$!
# dotnet-trace 10: `--profile cpu-sampling` belongs to collect-linux (kernel perf events); `collect` samples managed
# stacks of every thread (~100 Hz) with dotnet-sampled-thread-time, whose waiting threads summarize.py leaves out.
"$TOOLS/dotnet-trace" collect -p "$node_pid" --profile dotnet-common,dotnet-sampled-thread-time \
  --duration 00:00:00:$(printf %02d "$SECS") -o "$OUT/trace.nettrace" >/dev/null
wait $cnt || true
wait $bench
"$TOOLS/dotnet-trace" convert --format Speedscope "$OUT/trace.nettrace" -o "$OUT/trace" >/dev/null   # writes trace.speedscope.json
python3 "$here/summarize.py" "$OUT" > "$OUT/summary.txt"
cat "$OUT/summary.txt"
