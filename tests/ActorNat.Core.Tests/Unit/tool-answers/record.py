#!/usr/bin/env python3
"""Records what this machine's iptables and ip answer for each case line, in a throw-away network namespace.

Run as root:  python3 record.py > tool-answers.json
Each case runs in a fresh namespace (with a veth `eth0`, an address and a default route, so `ip route` cases have a
next hop). Kept: the exit status, stderr, and what the tool stored (`iptables -t nat -S POSTROUTING` / `ip -o addr` /
`ip route`), so the test can check that our parsers accept and refuse the same lines and read the same values.
"""
import json, os, subprocess, sys

IPT = "-t nat -A POSTROUTING"
CASES = [
    # (tool, argument words after the tool name)
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 600-500".split()),
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 500-600".split()),
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 500-500".split()),
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 65536".split()),
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 0".split()),
    ("iptables", f"{IPT} -p tcp -j MASQUERADE --to-ports 1-65535".split()),
    ("iptables", f"{IPT} -p udp -j MASQUERADE --to-ports 1024-65536".split()),
    ("iptables", f"{IPT} -p tcp --sport 600:500 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -p tcp --dport 70000 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -p tcp --dport 65535 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -p udp -j SNAT --to-source 10.0.0.1:600-500".split()),
    ("iptables", f"{IPT} -j SNAT --to-source 10.0.0.9-10.0.0.1".split()),
    ("iptables", f"{IPT} -j SNAT --to-source 10.0.0.1-10.0.0.9".split()),
    ("iptables", f"{IPT} -j SNAT --to-source 010.0.0.1".split()),
    ("iptables", f"{IPT} -j SNAT --to-source 10.0.0.256".split()),
    ("iptables", f"{IPT} -o eth0123456789ab -j MASQUERADE".split()),
    ("iptables", f"{IPT} -o eth0123456789abc -j MASQUERADE".split()),
    ("iptables", f"{IPT} -o eth/0 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -o eth:0 -j MASQUERADE".split()),
    ("iptables", IPT.split() + ["-o", "eth 0", "-j", "MASQUERADE"]),
    ("iptables", IPT.split() + ["-o", "eth\t0", "-j", "MASQUERADE"]),
    ("iptables", IPT.split() + ["-o", "eth\n0", "-j", "MASQUERADE"]),
    ("iptables", f"{IPT} -s 010.0.0.1 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 0x0a.0.0.1 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10.1 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10.0.0.256 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10.0.0.08 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10.0.0.0/33 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -s 10.0.0.0/010 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -d 192.168.1.0/24 -j MASQUERADE".split()),
    ("iptables", f"{IPT} -d 0300.0250.1.0/24 -j MASQUERADE".split()),
    ("iptables", "-t nat -I POSTROUTING 0 -j MASQUERADE".split()),
    ("iptables", "-t nat -I POSTROUTING 1 -j MASQUERADE".split()),
    ("ip", "addr add 010.0.0.1/24 dev eth0".split()),
    ("ip", "addr add 0x0a.0.0.1/24 dev eth0".split()),
    ("ip", "addr add 10.1/16 dev eth0".split()),
    ("ip", "addr add 10.0.0.256/24 dev eth0".split()),
    ("ip", "addr add 10.0.0.1/33 dev eth0".split()),
    ("ip", "addr add 10.0.0.1/010 dev eth0".split()),
    ("ip", "addr add 10.0.0.08/24 dev eth0".split()),
    ("ip", "addr add 10.0.0.1/24 dev eth0123456789ab".split()),
    ("ip", "link set dev eth0123456789abc up".split()),
    ("ip", "link set dev eth/0 up".split()),
    ("ip", "link set dev eth:0 up".split()),
    ("ip", ["link", "set", "dev", "eth 0", "up"]),
    ("ip", "route add 198.51.100.0/24 via 010.0.2.2".split()),
    ("ip", "route add 198.51.100.0/24 via 10.0.2.2 metric 4294967295".split()),
    ("ip", "route add 198.51.100.0/24 via 10.0.2.2 metric 4294967296".split()),
    ("ip", "route add 198.51.100.0/33 via 10.0.2.2".split()),
    ("ip", "route add 0306.51.100.0/24 via 10.0.2.2".split()),
]


def sh(ns, argv):
    return subprocess.run(["ip", "netns", "exec", ns] + argv, capture_output=True, text=True)


def main():
    out = []
    ns = "i12rec%d" % os.getpid()
    for k, (tool, args) in enumerate(CASES):
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            sh(ns, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"])
            sh(ns, ["ip", "link", "set", "eth0", "up"])
            sh(ns, ["ip", "link", "set", "peer0", "up"])
            sh(ns, ["ip", "addr", "add", "10.0.2.15/24", "dev", "eth0"])
            if tool == "ip":
                # the devices named in the case exist only when the kernel allows the name
                for dev in ("eth0123456789ab",):
                    sh(ns, ["ip", "link", "add", dev, "type", "veth", "peer", "name", "p%d" % k])
            r = sh(ns, [tool] + args)
            if tool == "iptables":
                stored = [l for l in sh(ns, ["iptables", "-t", "nat", "-S", "POSTROUTING"]).stdout.splitlines() if l.startswith("-A")]
            elif args[0] == "addr":
                stored = [l.split()[3] for l in sh(ns, ["ip", "-o", "-4", "addr", "show"]).stdout.splitlines() if "10.0.2.15" not in l]
            elif args[0] == "route":
                stored = [l for l in sh(ns, ["ip", "route", "show"]).stdout.splitlines() if "198.51" in l or "206.51" in l]
            else:
                stored = []
            out.append({"tool": tool, "args": args, "exit": r.returncode, "stderr": r.stderr.strip(), "stored": stored})
        finally:
            subprocess.run(["ip", "netns", "del", ns])
    json.dump({"recorded_with": subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout.strip()
               + "; " + subprocess.run(["ip", "-V"], capture_output=True, text=True).stdout.strip(),
               "kernel": os.uname().release, "cases": out}, sys.stdout, indent=1)


main()
