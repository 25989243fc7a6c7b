#!/bin/bash
# bench/node-bench.sh: one cluster node (fresh state) and one `actornat bench` run against it, over gRPC on loopback.
#
#   bench/node-bench.sh [DATABASE=sqlite|memory] [BENCH ARGS...]      e.g. bench/node-bench.sh sqlite new-flows -c 4 --batch 128 --duration 5
#
# Prints the bench's JSON, with the node's CPU time per verdict (--node-pid): on a shared machine that moves less than
# verdicts/s. ACTORNAT_DLL is the bench client (default: this tree's Release build of src/ActorNat.Cli); NODE_DLL the
# node's build (default: the same), so two builds can be compared back to back; BACKEND=local runs the in-process engine.
set -euo pipefail
DB=${1:-sqlite}; shift || true
repo=$(cd "$(dirname "$0")/.." && pwd)
DLL=${ACTORNAT_DLL:-$repo/src/ActorNat.Cli/bin/Release/net10.0/actornat.dll}
tmp=$(mktemp -d); node_pid=""
trap '[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
database=memory; [ "$DB" = sqlite ] && database="sqlite:$tmp/node.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "${NODE_DLL:-$DLL}" node --backend "${BACKEND:-cluster}" --grpc 127.0.0.1:$port --metrics off --database "$database" >"$tmp/node.out" 2>"$tmp/node.err" &
node_pid=$!
for _ in $(seq 1 300); do grep -q "grpc=" "$tmp/node.out" 2>/dev/null && break; sleep 0.2; done
grep -q "grpc=" "$tmp/node.out" || { echo "node-bench: the node did not start" >&2; cat "$tmp/node.err" >&2; exit 1; }
dotnet "$DLL" bench "$@" --target http://127.0.0.1:$port --node-pid "$node_pid" --json --quiet
