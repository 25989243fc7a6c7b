#!/usr/bin/env bash
# Installs, from Debian's packages, what ActorNat's tests and tools use: iproute2, iptables, conntrack and nftables
# (the live kernel differential), python3 (the oracle), PostgreSQL (multi-node clusters), npm (the build fetches the
# dashboard's charting library with `npm ci`), chromium (the dashboard's browser test), libnetfilter-queue1, curl and
# ping (the data plane and its real-traffic tests). Quiet and idempotent.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
missing=()
have ip || missing+=(iproute2)
{ have iptables && have iptables-nft && have iptables-legacy; } || missing+=(iptables)
have conntrack || missing+=(conntrack)
have nft || missing+=(nftables)
have python3 || missing+=(python3)
# The data plane (actornat dataplane: NFQUEUE through libnetfilter_queue) and its real-traffic tests (curl, ping).
ldconfig -p 2>/dev/null | grep -q 'libnetfilter_queue\.so\.1' || missing+=(libnetfilter-queue1)
have curl || missing+=(curl)
have ping || missing+=(iputils-ping)
have npm || missing+=(npm)
have chromium || missing+=(chromium)
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) != 0 ]]; then echo "install-deps: root is needed to install: ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    echo "install-deps: apt-get failed for: ${missing[*]}" >&2; tail -n 20 "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "install-deps: installed ${missing[*]}"
