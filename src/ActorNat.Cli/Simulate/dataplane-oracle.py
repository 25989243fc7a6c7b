#!/usr/bin/env python3
"""The kernel oracle's own flows, sockets and namespaces, with ActorNat as the router's NAT.

Used by `actornat simulate SCENARIO.json --dataplane` (which starts from a configured, empty node): this loads
kernel-oracle as a module and changes only what makes the router a NAT:
  * the router namespace gets no iptables nat rules (the node has them, from the scenario), and instead runs
    `actornat dataplane --netns ROUTER` (raw NOTRACK + mangle NFQUEUE), so every packet is translated by ActorNat;
  * the conntrack table and counters are read from the node (`actornat conntrack -L -o id`, `-S`), not the kernel's.
Everything else - namespaces, veths, addresses, routes, responders, client sockets, reply suppression, sleeps, dumps,
closes - is the oracle's code, so the same traffic the kernel saw goes through ActorNat.

usage: dataplane-oracle.py --oracle KERNEL_ORACLE --actornat BIN --target URL [--max-time S] SCENARIO.json
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time


def load_oracle(path):
    loader = importlib.machinery.SourceFileLoader("kernel_oracle", path)
    spec = importlib.util.spec_from_loader("kernel_oracle", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--actornat", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--max-time", type=float, default=300)
    a = ap.parse_args()
    ko = load_oracle(a.oracle)
    with open(a.scenario) as fh:
        scen = json.load(fh)
    router = scen.get("router", "router")
    # The router's nat rules live in the node (simulate configured it); the kernel must not NAT as well.
    rcfg = scen.get("namespaces", {}).get(router, {})
    rcfg["iptables"] = [r for r in rcfg.get("iptables", []) if "nat" not in r.split()]

    class DataplaneOracle(ko.Oracle):
        dp = None

        def setup(self):
            super().setup()
            log = open(os.path.join(self._scratch(), "dataplane.log"), "w+")
            self.dp_log = log
            self.dp = subprocess.Popen([a.actornat, "dataplane", "--netns", self.ns(router), "--target", a.target,
                                        "--refresh", "0.5"], stdout=subprocess.PIPE, stderr=log, text=True)
            line = self.dp.stdout.readline()
            if not line.startswith("dataplane ready"):
                log.seek(0)
                raise RuntimeError("actornat dataplane did not start: " + log.read())

        def _scratch(self):
            if self.tmpdir is None:
                import tempfile
                self.tmpdir = tempfile.mkdtemp(prefix="dataplane-oracle-%s-" % self.tag)
            return self.tmpdir

        def _actornat(self, *args):
            p = subprocess.run([a.actornat, *args, "--target", a.target], capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                raise RuntimeError("actornat %s failed: %s" % (" ".join(args), p.stderr.strip()))
            return p.stdout

        def ct_dump(self):
            return ko.parse_ct_text(self._actornat("conntrack", "-L", "-o", "id"))

        def ct_stats(self):
            return ko.parse_ct_stats(self._actornat("conntrack", "-S"))

        def teardown(self):
            if self.dp is not None and self.dp.poll() is None:
                self.dp.send_signal(signal.SIGTERM)
                try:
                    self.dp.wait(15)
                except subprocess.TimeoutExpired:
                    self.dp.kill()
                self.dp_log.seek(0)
                tail = self.dp_log.read().strip().splitlines()[-1:]
                if tail:
                    ko.log("dataplane:", tail[0])
            self.dp = None
            super().teardown()

    o = DataplaneOracle(scen, keep=False, events=False)

    # An `exec` in the router that changes what the NAT knows goes to the node too (ip addr/route), or only to the node
    # (iptables nat rules: the kernel must not NAT); the oracle runs every command through its module-level run().
    kernel_run = ko.run

    def run(cmd, check=True, ns=None, timeout=30, capture=True):
        if ns == o.ns(router) and len(cmd) >= 2:
            if cmd[0] == "ip" and len(cmd) >= 3 and cmd[1] in ("addr", "address", "route") and cmd[2] in ("add", "del", "delete"):
                obj = "addr" if cmd[1].startswith("addr") else "route"
                node = subprocess.run([a.actornat, obj, "del" if cmd[2].startswith("del") else "add", *cmd[3:], "--target", a.target],
                                      capture_output=True, text=True, timeout=60)
                if node.returncode != 0:
                    raise RuntimeError("the node refused %s: %s" % (" ".join(cmd), node.stderr.strip()))
            elif cmd[0].startswith("iptables") and "nat" in cmd:
                # Any nat-table command (-A/-I/-D/-F/-N/-X, user chains) in iptables' own syntax.
                node = subprocess.run([a.actornat, "iptables", *cmd[1:], "--target", a.target], capture_output=True, text=True, timeout=60)
                return subprocess.CompletedProcess(cmd, node.returncode, node.stdout, node.stderr)
            elif cmd[0] == "conntrack" or (cmd[0] == "sysctl" and any("nf_conntrack" in c for c in cmd)):
                # The node's conntrack table and sysctls, not the router kernel's: actornat takes the same arguments.
                node = subprocess.run([a.actornat, *cmd, "--target", a.target], capture_output=True, text=True, timeout=60)
                if check and node.returncode != 0:
                    raise RuntimeError("the node refused %s: %s" % (" ".join(cmd), node.stderr.strip()))
                return subprocess.CompletedProcess(cmd, node.returncode, node.stdout, node.stderr)
        return kernel_run(cmd, check=check, ns=ns, timeout=timeout, capture=capture)

    ko.run = run

    def on_signal(sig, frm):
        raise SystemExit("signal %d" % sig)

    def on_alarm(sig, frm):
        raise TimeoutError("--max-time exceeded")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.max_time)
    try:
        out = o.go()
    except (Exception, SystemExit) as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        o.teardown()
        print(json.dumps({"scenario": scen.get("name"), "error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
    signal.setitimer(signal.ITIMER_REAL, 0)
    o.teardown()
    out["nat_rules"] = ["-P POSTROUTING ACCEPT"] + [l for l in o_rules(a) if l.startswith("-A")]
    out["dataplane"] = True
    print(json.dumps(out))


def o_rules(a):
    p = subprocess.run([a.actornat, "rule", "list", "--target", a.target], capture_output=True, text=True, timeout=60)
    return p.stdout.splitlines()


if __name__ == "__main__":
    main()
