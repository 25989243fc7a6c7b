#!/usr/bin/env bash
# Three network namespaces to put real traffic through ActorNat's data plane:
#
#   NAME-client (eth0 172.18.0.2/16, default via 172.18.0.1)
#     <-> NAME-router (docker0 172.18.0.1/16 | eth0 10.0.2.15/24, default via 10.0.2.2; forwarding on)
#     <-> NAME-server (eth0 10.0.2.2/24, and 192.0.2.80/32 on lo; no route back to 172.18.0.0/16: only NAT gets answers)
#
#   deploy/local/netns-lab.sh up [NAME]              create them (NAME default: anlab)
#   deploy/local/netns-lab.sh configure URL [NAME]   give the node at URL the router's addresses, routes and the
#                                                    MASQUERADE rule (what `actornat dataplane` needs from the cluster)
#   deploy/local/netns-lab.sh down [NAME]            delete them
#
# All addresses are private/documentation ones and live only inside these namespaces. Needs root.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
die() { echo "netns-lab.sh: $*" >&2; exit 1; }

up() {
  local n="$1" c="$1-client" r="$1-router" s="$1-server"
  ip netns list | grep -q "^$r\b" && die "namespaces $n-* exist (run: netns-lab.sh down $n)"
  for x in "$c" "$r" "$s"; do ip netns add "$x"; ip -n "$x" link set lo up; done
  ip -n "$c" link add eth0 type veth peer name docker0 netns "$r"
  ip -n "$r" link add eth0 type veth peer name eth0 netns "$s"
  ip -n "$c" addr add 172.18.0.2/16 dev eth0
  ip -n "$r" addr add 172.18.0.1/16 dev docker0
  ip -n "$r" addr add 10.0.2.15/24 dev eth0
  ip -n "$s" addr add 10.0.2.2/24 dev eth0
  ip -n "$s" addr add 192.0.2.80/32 dev lo
  for x in "$c:eth0" "$r:docker0" "$r:eth0" "$s:eth0"; do ip -n "${x%%:*}" link set "${x#*:}" up; done
  ip -n "$c" route add default via 172.18.0.1
  ip -n "$r" route add default via 10.0.2.2
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
  for x in "$c" "$r" "$s"; do ip netns exec "$x" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0; done
  echo "netns-lab.sh: $c -> $r -> $s"
}

configure() {
  local url="$1" bin="${ACTORNAT_BIN:-}"
  [[ -n "$bin" ]] || bin="$REPO/.run/local/bin/actornat"
  [[ -x "$bin" ]] || die "no actornat at $bin (set ACTORNAT_BIN, or run deploy/local/cluster.sh up first)"
  "$bin" addr add 172.18.0.1/16 dev docker0 --target "$url"
  "$bin" addr add 10.0.2.15/24 dev eth0 --target "$url"
  "$bin" route add default via 10.0.2.2 dev eth0 --target "$url"
  "$bin" rule add "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE" --target "$url"
}

down() {
  local x
  for x in "$1-client" "$1-router" "$1-server"; do ip netns del "$x" 2>/dev/null || true; done
}

case "${1:-}" in
  up) up "${2:-anlab}" ;;
  configure) [[ -n "${2:-}" ]] || die "usage: netns-lab.sh configure URL [NAME]"; configure "$2" ;;
  down) down "${2:-anlab}" ;;
  *) echo "usage: netns-lab.sh up [NAME] | configure URL [NAME] | down [NAME]" >&2; exit 2 ;;
esac
