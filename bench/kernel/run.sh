#!/bin/bash
# bench/kernel/run.sh: the kernel's new-flow rate through MASQUERADE and ActorNat's on the same rules, in one run.
#
#   sudo bench/kernel/run.sh [SECONDS=5] [PACKETS=250000] [RUNS=3]
#
# Kernel: three network namespaces created here (client 172.18.0.2 -> router with the article's addresses, routes and
# MASQUERADE rules -> upstream 10.0.2.2 that drops UDP at ingress), and flowgen.c compiled now with this machine's gcc,
# sending PACKETS new UDP flows (each packet a new flow) from the client with 2 threads, at most SECONDS. The rate is the
# router's new conntrack entries per second of sending (conntrack -C before/after). RUNS runs; the median is reported.
# ActorNat: a node started here on 127.0.0.1 (Release build; ACTORNAT_DLL overrides the path) with the same lines as
# its --config, then `actornat bench new-flows --no-config --json` for SECONDS. Both print, then the ratio.
# BENCH_BACKEND=cluster runs the cluster backend (SQLite journal; BENCH_DATABASE=memory for the in-memory one).
# Bounded: at most RUNS x (SECONDS or PACKETS) of generator time and SECONDS+warm-up of bench; only addresses inside the
# namespaces made here and loopback. The trap removes the namespaces, stops the node and deletes the temporary folder.
set -euo pipefail
SECONDS_RUN=${1:-5}; PACKETS=${2:-250000}; RUNS=${3:-3}
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespaces, raw sockets)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
DLL=${ACTORNAT_DLL:-$repo/src/ActorNat.Cli/bin/Release/net10.0/actornat.dll}
tag=ank$$; C=$tag-c; R=$tag-r; U=$tag-u
tmp=$(mktemp -d); node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  for n in $C $R $U; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

gcc -O2 -Wall -pthread -o "$tmp/flowgen" "$here/flowgen.c"
if [ ! -f "$DLL" ]; then
  echo "# building $DLL" >&2
  dotnet build -c Release "$repo/src/ActorNat.Cli" -v q -nologo >&2
fi

# The article's router (oracle scenario "article"): the lines both the kernel and ActorNat get.
cat > "$tmp/router.conf" <<CONF
ip addr add 172.18.0.1/16 dev docker0
ip addr add 10.0.2.15/24 dev eth0
ip addr add 203.0.113.56/24 dev eth0
ip route add default via 10.0.2.2
ip route add 198.51.100.1 via 203.0.113.4 dev eth0
iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680
iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE
CONF

for n in $C $R $U; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n $C link add eth0 type veth peer name docker0 netns $R
ip -n $R link add eth0 type veth peer name eth0 netns $U
ip -n $C addr add 172.18.0.2/16 dev eth0; ip -n $C link set eth0 up; ip -n $C route add default via 172.18.0.1
ip -n $R link set docker0 up; ip -n $R link set eth0 up
ip -n $U addr add 10.0.2.2/24 dev eth0; ip -n $U addr add 203.0.113.4/24 dev eth0; ip -n $U link set eth0 up
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
while read -r line; do
  case "$line" in
    ip\ *) ip -n $R ${line#ip } ;;
    iptables\ *) eval "ip netns exec $R $line" ;;
  esac
done < "$tmp/router.conf"
ip netns exec $U nft -f - <<NFT
table netdev sink {
  chain sinkin {
    type filter hook ingress device "eth0" priority 0; policy accept;
    meta l4proto udp counter drop
  }
}
NFT
# ARP and the route cache warm, then an empty table.
ip netns exec $C "$tmp/flowgen" 172.18.0.2 0.2 2000 1 >/dev/null; sleep 0.3

kernel_runs=()
for i in $(seq 1 "$RUNS"); do
  ip netns exec $R conntrack -F >/dev/null 2>&1 || true; sleep 0.5
  c0=$(ip netns exec $R conntrack -C)
  g=$(ip netns exec $C "$tmp/flowgen" 172.18.0.2 "$SECONDS_RUN" "$PACKETS" 2)
  sleep 0.2
  c1=$(ip netns exec $R conntrack -C)
  s=$(ip netns exec $R conntrack -S | awk '{for(i=2;i<=NF;i++){split($i,a,"=");t[a[1]]+=a[2]}} END{printf "insert_failed=%d drop=%d early_drop=%d",t["insert_failed"],t["drop"],t["early_drop"]}')
  r=$(python3 -c 'import json,sys; g=json.loads(sys.argv[1]); n=int(sys.argv[3])-int(sys.argv[2]); print(json.dumps({"run":int(sys.argv[4]),"generator":g,"new_entries":n,"new_per_s":round(n/g["elapsed_s"]),"stats":sys.argv[5]}))' "$g" "$c0" "$c1" "$i" "$s")
  echo "kernel $r"
  kernel_runs+=("$r")
done
ip netns exec $R conntrack -F >/dev/null 2>&1 || true

# ActorNat on the same lines: a node on a free loopback port, then the bench.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The cluster backend keeps its journal in a fresh SQLite file here (not in the working directory's data/).
# BENCH_DATABASE=memory: the cluster backend with its in-memory journal (default: a fresh SQLite file, durable).
db=(); [ "${BENCH_BACKEND:-local}" = cluster ] && db=(--database "${BENCH_DATABASE:-sqlite:$tmp/node.db}")
dotnet "$DLL" node --backend "${BENCH_BACKEND:-local}" --grpc 127.0.0.1:$port --metrics off "${db[@]}" --config "$tmp/router.conf" >"$tmp/node.out" 2>"$tmp/node.err" &
node_pid=$!
for _ in $(seq 1 100); do grep -q "grpc=" "$tmp/node.out" 2>/dev/null && break; sleep 0.1; done
grep -q "grpc=" "$tmp/node.out" || { echo "run.sh: the node did not start:" >&2; cat "$tmp/node.err" >&2; exit 1; }
CONC=${BENCH_CONCURRENCY:-4}; BATCH=${BENCH_BATCH:-256}
a=$(dotnet "$DLL" bench new-flows --target http://127.0.0.1:$port --no-config --duration "$SECONDS_RUN" --warmup 2 \
      --concurrency "$CONC" --batch "$BATCH" --node-pid "$node_pid" --json --quiet)
echo "actornat $a"

python3 - "$a" "${kernel_runs[@]}" <<'PY'
import json, statistics, sys
a = json.loads(sys.argv[1]); k = [json.loads(x) for x in sys.argv[2:]]
km = statistics.median(r["new_per_s"] for r in k)
print(f"kernel MASQUERADE new flows/s (median of {len(k)}): {km:,.0f}")
print(f"actornat new flows/s ({a['transport']} batch {a['batch']}, concurrency {a['concurrency']}, {a['duration_s']} s): "
      f"{a['per_second']:,.0f}  violations {a['violations']}  dropped {a['dropped']}  failed {a['failed']}  "
      f"node CPU {a.get('node_cpu_us_per_verdict')} us/flow")
print(f"ratio actornat/kernel: {a['per_second']/km:.3f}")
PY
