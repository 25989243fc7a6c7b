#!/usr/bin/env bash
# Established-flow forwarding and new flows through `actornat dataplane`, beside the kernel's MASQUERADE in the same
# run, with the oracle bench's generator (../shared/oracle/bench/udpgen.c) and topology:
#   client 172.18.0.2 -> router (docker0 172.18.0.1/16 | eth0 10.0.2.15/24) -> upstream 10.0.2.2 (drops UDP at ingress)
#
#   bench/dataplane/run.sh [SECONDS (default 5)] [NEW_FLOWS (default 3000)] [QUEUES (default 1)]
#
# Prints one JSON line per run and the ratio. Needs root, gcc, nft. Hold `flock /tmp/actornat-measure.lock` around it.
set -uo pipefail
T=${1:-5}; NEWN=${2:-3000}; NQ=${3:-1}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORACLE="${ORACLE_DIR:-$REPO/../shared/oracle}"
P=andpb$$; C=$P-client; R=$P-router; U=$P-upstream
WORK=$(mktemp -d); RUN="$WORK/run"
GEN="$WORK/udpgen"; gcc -O2 -pthread -o "$GEN" "$ORACLE/bench/udpgen.c" || exit 1
BIN="${ACTORNAT_BIN:-}"
DP=""
cleanup() {
  [[ -n "$DP" ]] && kill -TERM "$DP" 2>/dev/null && wait "$DP" 2>/dev/null
  ACTORNAT_RUN_DIR="$RUN" "$REPO/deploy/local/cluster.sh" down >/dev/null 2>&1
  for n in $C $R $U; do ip netns del $n 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
for n in $C $R $U; do ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add eth0 type veth peer name docker0 netns $R
ip -n $R link add eth0 type veth peer name eth0 netns $U
ip -n $C addr add 172.18.0.2/16 dev eth0; ip -n $C link set eth0 up; ip -n $C route add default via 172.18.0.1
ip -n $R addr add 172.18.0.1/16 dev docker0; ip -n $R addr add 10.0.2.15/24 dev eth0
ip -n $R link set docker0 up; ip -n $R link set eth0 up; ip -n $R route add default via 10.0.2.2
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
ip -n $U addr add 10.0.2.2/24 dev eth0; ip -n $U link set eth0 up; ip -n $U addr add 192.0.2.200/32 dev lo
sink() { ip netns exec $U nft -f - <<NFT
table netdev sink {
  chain sinkin {
    type filter hook ingress device "eth0" priority 0; policy accept;
    meta l4proto udp counter drop
  }
}
NFT
}
rx() { ip netns exec $U cat /sys/class/net/eth0/statistics/rx_packets; }
run() { # name mode seconds maxpkts
  local r0 t0 g r1
  r0=$(rx); g=$(ip netns exec $C "$GEN" "$2" 172.18.0.2 192.0.2.200 "$3" "$4" 1); sleep 0.5; r1=$(rx)
  python3 -c 'import json,sys; g=json.loads(sys.argv[2]); f=int(sys.argv[4])-int(sys.argv[3]); print(json.dumps({"test":sys.argv[1],"gen":g,"forwarded":f,"forwarded_pps":round(f/g["elapsed"])}))' "$1" "$g" "$r0" "$r1"
}
echo "# T=$T new_flows=$NEWN queues=$NQ kernel=$(uname -r) cpus=$(nproc) load: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The kernel: MASQUERADE with conntrack.
ip netns exec $R iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE
sink
ip netns exec $C "$GEN" est 172.18.0.2 192.0.2.200 0.2 10 1 >/dev/null; sleep 0.3
kern=$(run kernel-est est "$T" 50000000); echo "$kern"
ip netns exec $R conntrack -F >/dev/null 2>&1
kn=$(run kernel-new new 10 "$NEWN"); echo "$kn"
ip netns exec $R iptables -t nat -F; ip netns exec $R conntrack -F >/dev/null 2>&1
ip netns exec $U nft delete table netdev sink

# 2. ActorNat: one node, actornat dataplane in the router.
url=$(ACTORNAT_RUN_DIR="$RUN" ACTORNAT_BIN="$BIN" "$REPO/deploy/local/cluster.sh" up 1 2>/dev/null | awk '/^node/{print $3}')
[[ -n "$url" ]] || { echo "the node did not start" >&2; exit 1; }
BIN="${BIN:-$RUN/bin/actornat}"
for a in "addr add 172.18.0.1/16 dev docker0" "addr add 10.0.2.15/24 dev eth0" "route add default via 10.0.2.2 dev eth0"; do "$BIN" $a --target "$url" >/dev/null; done
"$BIN" rule add "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE" --target "$url" >/dev/null
q=0; (( NQ > 1 )) && q="0:$((NQ - 1))"
"$BIN" dataplane --netns $R --queue "$q" --target "$url" > "$WORK/dp.out" 2> "$WORK/dp.err" &
DP=$!
for _ in $(seq 100); do grep -q "dataplane ready" "$WORK/dp.out" && break; sleep 0.1; done  # polling for the ready line
# Establish the generator's flow (172.18.0.2:40000 -> 192.0.2.200:53) as a UDP stream, so the cache forwards it:
# an answer, then a packet more than 2 s later (ASSURED).
ip netns exec $U python3 -c 'import socket;s=socket.socket(2,2);s.bind(("192.0.2.200",53));s.settimeout(8)
for _ in range(2):
    d,a=s.recvfrom(99);s.sendto(d,a)' &
resp=$!
sleep 0.3
ip netns exec $C python3 -c 'import socket,time;s=socket.socket(2,2);s.bind(("172.18.0.2",40000));s.settimeout(3)
s.sendto(b"a",("192.0.2.200",53));s.recv(9);time.sleep(2.2);s.sendto(b"b",("192.0.2.200",53));s.recv(9)' || echo "establishing the flow failed" >&2
wait $resp
sleep 1.2
sink
dpe=$(run dataplane-est est "$T" 50000000); echo "$dpe"
# New flows: NEW_FLOWS first packets at once (they wait in the kernel's queue, 4096 deep, for the cluster's verdicts);
# the rate is entries created over the time until the table stops growing (polled every 0.2 s, at most 60 s).
before=$("$BIN" conntrack -C --target "$url")
t0=$(date +%s.%N)
dpn=$(run dataplane-new new 10 "$NEWN"); echo "$dpn"
last=-1; after=$before; tdone=$t0
for _ in $(seq 300); do
  after=$("$BIN" conntrack -C --target "$url")
  if [[ "$after" == "$last" ]]; then break; fi
  last=$after; tdone=$(date +%s.%N); sleep 0.2  # polling the node's table until it stops growing
done
kill -TERM "$DP"; wait "$DP" 2>/dev/null; DP=""
echo "# dataplane: $(grep "^dataplane: forwarded" "$WORK/dp.err" | tail -1)"; grep -v "^dataplane: forwarded" "$WORK/dp.err" | head -20 >&2
python3 - "$kern" "$dpe" "$kn" "$dpn" "$before" "$after" "$t0" "$tdone" <<'PY'
import json, sys
k, d, kn, dn = (json.loads(x) for x in sys.argv[1:5])
created = int(sys.argv[6]) - int(sys.argv[5])
took = float(sys.argv[8]) - float(sys.argv[7])
print(json.dumps({"established_pps_kernel": k["forwarded_pps"], "established_pps_dataplane": d["forwarded_pps"],
                  "ratio": round(d["forwarded_pps"] / max(1, k["forwarded_pps"]), 3),
                  "new_flows_per_s_kernel_forwarded": kn["forwarded_pps"],
                  "new_flows_dataplane_entries_created": created, "new_flows_dataplane_seconds": round(took, 2), "new_flows_per_s_dataplane": round(created / took) if took > 0 else 0,
                  "new_flows_dataplane_forwarded": dn["forwarded"]}))
PY
