using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Routing;
using ActorNat.Core.Rules;

namespace ActorNat.Cli.Simulate;

/// <summary>
/// Plays a scenario through a packet processor on a virtual clock: each flow becomes the packets the kernel would see
/// (TCP handshake and close, UDP and ICMP request/answer), with the scenario's pauses as clock steps.
/// The processor is an in-process <see cref="NatEngine"/> or, through <see cref="IPacketPath"/>, any backend.
/// </summary>
public sealed class Simulator
{
    /// <summary>Where packets go and configuration is applied: a local engine, or a live node over gRPC.</summary>
    public interface IPacketPath
    {
        /// <summary>Moves the path's clock to the simulated time (local engines) or does nothing (a live node).</summary>
        void AdvanceTo(long nowMs);
        Verdict Process(in Packet packet);
        void Apply(string line);
        ConntrackTimeouts Timeouts { get; set; }
        IReadOnlyList<ConntrackEntry> Entries();
        long NowMs { get; }
        IReadOnlyList<(string Name, long Value)> Stats();
        ConfigSnapshot Config();
        /// <summary>`conntrack -D`/`-F`: destroys the matching entries, as deleted; returns how many.</summary>
        int Delete(ConntrackFilter filter);
    }

    /// <summary>A <see cref="NatEngine"/> on a <see cref="ManualClock"/>.</summary>
    public sealed class LocalPath : IPacketPath
    {
        private readonly ManualClock _clock = new(1_000_000);
        public LocalPath(ulong seed) => Engine = new NatEngine(_clock, new SeededRandom(seed));
        public NatEngine Engine { get; }
        public void AdvanceTo(long nowMs) { if (nowMs > _clock.NowMs) _clock.Advance(nowMs - _clock.NowMs); }
        public Verdict Process(in Packet packet) => Engine.Process(packet);
        public void Apply(string line) => Engine.Apply(line);
        public ConntrackTimeouts Timeouts { get => Engine.Timeouts; set => Engine.Timeouts = value; }
        public IReadOnlyList<ConntrackEntry> Entries() => Engine.Entries().ToList();
        public long NowMs => _clock.NowMs;
        public IReadOnlyList<(string Name, long Value)> Stats() => Engine.Stats.All().ToList();
        public ConfigSnapshot Config() => LocalNatBackend.Snapshot(Engine);
        public int Delete(ConntrackFilter filter) => Engine.DestroyWhere(e => filter.Matches(e), DestroyReason.Deleted);
    }

    // Latencies of the namespaces' veth path, and of a client's per-flow work; small, so timeouts match the kernel's.
    private const long RoundTripMs = 1;
    private const long FlowOverheadMs = 2;

    private readonly IPacketPath _path;
    private readonly Scenario _scenario;
    private readonly SeededRandom _random;
    private long _now;
    private readonly List<FlowOutcome> _outcomes = [];
    private readonly Dictionary<int, TcpPeer> _tcp = [];
    private readonly List<Snapshot> _snapshots = [];
    private readonly List<ExecRecord> _exec = [];
    private readonly HashSet<string> _peers; // the other namespaces' addresses now (exec may change them)

    private sealed class TcpPeer
    {
        public required FiveTuple Original;
        public required FiveTuple ReplyTuple;
        public uint ClientSeq, ServerSeq;
        public bool Open;
    }

    public Simulator(Scenario scenario, IPacketPath path, ulong seed)
    {
        _scenario = scenario;
        _path = path;
        _peers = [.. scenario.PeerAddresses];
        _random = new SeededRandom(seed ^ 0x5DEECE66DUL);
        _now = path.NowMs;
    }

    public SimulationResult Run()
    {
        Configure();
        foreach (var step in _scenario.Steps)
        {
            switch (step)
            {
                case FlowStep f: RunFlow(f.Flow); break;
                case SleepStep s: Advance(s.Seconds); break;
                case DumpStep d: _snapshots.Add(new Snapshot(d.Label, _now, Live())); break;
                case CloseStep c: CloseLater(c); break;
                case ExecStep x: Exec(x); break;
            }
        }
        Advance(0.1);
        var config = _path.Config();
        return new SimulationResult(_scenario.Name, _outcomes, Live(), _now, _path.Stats(), config.Addresses, config.Routes,
            config.Rules, _snapshots, _exec);
    }

    private IReadOnlyList<ConntrackEntry> Live()
    {
        _path.AdvanceTo(_now);
        return _path.Entries();
    }

    /// <summary>Gives the packet path the scenario's router (sysctls, addresses, routes, rules) without running its flows.</summary>
    public void ConfigureOnly() => Configure();

    private void Configure()
    {
        foreach (var (key, value) in _scenario.Sysctl)
        {
            bool known = key.Contains("nf_conntrack_") && key.Contains("timeout")
                         || key is "net.ipv4.conf.all.promote_secondaries" or "net.ipv4.conf.default.promote_secondaries"
                             or "net.netfilter.nf_conntrack_max" or "net.ipv4.ip_forward" or "net.ipv4.conf.all.forwarding";
            if (!known) throw new ParseException($"scenario content not supported by the simulation: sysctl {key}", key);
            Sysctl(key, value.Trim()); // as an exec of `sysctl -w` between flows would
        }
        foreach (var nic in _scenario.Interfaces)
        {
            _path.Apply($"ip link set dev {nic.Device} up");
            foreach (var a in nic.Addresses) _path.Apply($"ip addr add {(a.Contains('/') ? a : a + "/32")} dev {nic.Device}");
        }
        foreach (var r in _scenario.Routes) _path.Apply("ip route add " + r);
        foreach (var rule in _scenario.Iptables)
        {
            var words = CommandLine.Split(rule);
            if (words.Count > 0 && words[0] == "iptables") words.RemoveAt(0);
            _path.Apply("iptables " + string.Join(' ', words.Select(Quote)));
        }
    }

    private static string Quote(string w) => w.Length == 0 || w.Any(char.IsWhiteSpace) ? $"'{w}'" : w;

    private void Advance(double seconds) => _now += (long)Math.Round(seconds * 1000);

    private Verdict Send(in Packet p)
    {
        _path.AdvanceTo(_now);
        return _path.Process(p);
    }

    private void RunFlow(ScenarioFlow flow)
    {
        var src = IPv4.Parse(flow.Src);
        var dst = IPv4.Parse(flow.Dst);
        bool peerAnswers = flow.Reply && (_peers.Contains(flow.Dst) || RouterOwns(flow.Dst));
        // An address a namespace gained by exec has its kernel but no listener (the oracle starts listeners only on the
        // scenario's own addresses): a closed port's ICMP port unreachable or RST.
        if (flow.Proto is "udp" or "tcp" && !_scenario.PeerAddresses.Contains(flow.Dst) && !RouterOwns(flow.Dst)) flow = flow with { Listener = false };
        _now += FlowOverheadMs;
        switch (flow.Proto)
        {
            case "udp":
            {
                var sport = flow.Sport > 0 ? (ushort)flow.Sport : Ephemeral();
                var tuple = new FiveTuple(Protocol.Udp, src, dst, sport, (ushort)flow.Dport);
                RequestReply(flow, tuple, peerAnswers);
                break;
            }
            case "icmp":
            {
                var tuple = FiveTuple.Icmp(src, dst, (byte)flow.IcmpType, (byte)flow.IcmpCode, (ushort)flow.IcmpId);
                // A Linux peer answers echo and timestamp requests (icmp_echo, icmp_timestamp); nothing else.
                RequestReply(flow, tuple, peerAnswers && flow.IcmpType is Icmp.EchoRequest or Icmp.Timestamp);
                break;
            }
            default:
                Tcp(flow, src, dst, peerAnswers);
                break;
        }
        Advance(flow.Wait);
    }

    /// <summary>
    /// UDP or ICMP: each packet, its answer (when the peer answers), and the interval before the next packet. A UDP packet to a port nobody
    /// listens on is answered by the peer's kernel with a port unreachable quoting it; the client's connected socket
    /// sees ECONNREFUSED when NAT translated that error back to it (RELATED).
    /// </summary>
    private void RequestReply(ScenarioFlow flow, FiveTuple tuple, bool peerAnswers)
    {
        int answered = 0, refused = 0;
        for (int n = 0; n < flow.Packets; n++)
        {
            var v = Send(new Packet(tuple));
            bool forwarded = v.Kind is VerdictKind.Translate or VerdictKind.NoNat or VerdictKind.Untracked;
            bool answers = peerAnswers && forwarded && _scenario.PeerRoutes.CanAnswer(tuple.Dst, v.Rewritten.Src);
            if (forwarded && answers && flow.Listener)
            {
                _now += RoundTripMs;
                var answer = Send(new Packet(v.Rewritten.Invert()));
                if (answer.Kind is VerdictKind.Translate or VerdictKind.NoNat && answer.Rewritten.Dst == tuple.Src) answered++;
            }
            else if (forwarded && answers)
            {
                _now += RoundTripMs;
                if (Refused(v.Rewritten, tuple)) refused++;
            }
            else
            {
                // A hop without a route answers with an error (a UDP client's socket sees EHOSTUNREACH, which the
                // oracle does not count); the client still waits out its reply timeout.
                if (forwarded) HopError(v.Rewritten, tuple);
                Advance(flow.ReplyTimeout);
            }
            // The oracle pauses between packets, not after the last one.
            if (n + 1 < flow.Packets) Advance(flow.Interval);
        }
        _outcomes.Add(new FlowOutcome(flow, tuple, $"replies={answered}/{flow.Packets}" + (refused > 0 ? $" refused={refused}" : "")));
    }

    /// <summary>
    /// The error a hop on the path sends for a packet that arrived as <paramref name="arrived"/>, when some namespace
    /// routes its destination to `unreachable`/`prohibit`: from that hop's address on the NAT address's subnet. It must
    /// come back RELATED, to the client, quoting the client's own packet.
    /// </summary>
    private void HopError(in FiveTuple arrived, in FiveTuple sent)
    {
        var dst = arrived.Dst;
        var route = _scenario.UnreachableRoutes.Where(r => r.Prefix.Contains(dst)).OrderByDescending(r => r.Prefix.Length).FirstOrDefault();
        if (route.Code == 0) return;
        var nat = arrived.Src;
        var hop = _scenario.PeerLinkAddresses.Select(a => (Cidr: a, Ok: Prefix.TryParse(a.Contains('/') ? a : a + "/32", out var p) ? p : default))
            .FirstOrDefault(x => x.Ok.Length > 0 && x.Ok.Contains(nat)).Cidr;
        if (hop is null) return;
        _now += RoundTripMs;
        var error = new Packet(FiveTuple.Icmp(IPv4.Parse(hop.Split('/')[0]), nat, Icmp.DestUnreachable, route.Code, 0)) { Embedded = arrived };
        var v = Send(error);
        if (!(v.Kind is VerdictKind.Translate or VerdictKind.NoNat && v.Embedded == sent))
            throw new InvalidOperationException($"the hop's unreachable for {sent} did not come back to the client: {v.Kind} {v.Reason}");
    }

    /// <summary>The peer's port unreachable for a packet that arrived as <paramref name="arrived"/>: back at the client?</summary>
    private bool Refused(in FiveTuple arrived, in FiveTuple sent)
    {
        var error = new Packet(FiveTuple.Icmp(arrived.Dst, arrived.Src, Icmp.DestUnreachable, 3, 0)) { Embedded = arrived };
        var v = Send(error);
        return v.Kind is VerdictKind.Translate or VerdictKind.NoNat && v.Embedded == sent && v.Rewritten.Dst == sent.Src;
    }

    private void Tcp(ScenarioFlow flow, IPv4 src, IPv4 dst, bool peerAnswers)
    {
        var sport = flow.Sport > 0 ? (ushort)flow.Sport : Ephemeral();
        var tuple = new FiveTuple(Protocol.Tcp, src, dst, sport, (ushort)flow.Dport);
        uint isn = _random.NextU32();
        var syn = Send(new Packet(tuple, TcpFlags.Syn, isn));
        // The server's SYN-ACK or RST needs a route back to the SYN's source as it left the router.
        peerAnswers = peerAnswers && syn.Kind != VerdictKind.Drop && _scenario.PeerRoutes.CanAnswer(tuple.Dst, syn.Rewritten.Src);
        if (syn.Kind != VerdictKind.Drop && peerAnswers && !flow.Listener)
        {
            // Nothing listens: the peer's kernel answers the SYN with RST+ACK, which ends the unreplied connection.
            _now += RoundTripMs;
            var rst = Send(new Packet(syn.Rewritten.Invert(), TcpFlags.Rst | TcpFlags.Ack, 0));
            _outcomes.Add(new FlowOutcome(flow, tuple, rst.Kind == VerdictKind.Drop ? "connect-timeout" : "error:ECONNREFUSED"));
            return;
        }
        if (syn.Kind == VerdictKind.Drop || !peerAnswers)
        {
            if (syn.Kind != VerdictKind.Drop) HopError(syn.Rewritten, tuple); // a soft error for a connecting socket: it retries
            // No SYN-ACK: the client retransmits its SYN after 1 s and gives up at connect_timeout.
            if (flow.ConnectTimeout > 1.0)
            {
                Advance(1.0);
                var again = Send(new Packet(tuple, TcpFlags.Syn, isn));
                if (again.Kind != VerdictKind.Drop) HopError(again.Rewritten, tuple);
                Advance(flow.ConnectTimeout - 1.0);
            }
            else Advance(flow.ConnectTimeout);
            _outcomes.Add(new FlowOutcome(flow, tuple, "connect-timeout"));
            return;
        }
        var replyTuple = syn.Rewritten.Invert();
        uint serverIsn = _random.NextU32();
        var peer = new TcpPeer { Original = tuple, ReplyTuple = replyTuple, ClientSeq = isn + 1, ServerSeq = serverIsn + 1, Open = true };
        _now += RoundTripMs;
        Send(new Packet(replyTuple, TcpFlags.Syn | TcpFlags.Ack, serverIsn));
        Send(new Packet(tuple, TcpFlags.Ack, peer.ClientSeq));
        _tcp[flow.Index] = peer;
        _outcomes.Add(new FlowOutcome(flow, tuple, "connected"));
        if (flow.Close != "none") Close(peer, flow.Close);
    }

    /// <summary>fin: client FIN, the server's FIN+ACK, the client's last ACK (TIME_WAIT). rst: the client's RST (CLOSE).</summary>
    private void Close(TcpPeer peer, string how)
    {
        if (!peer.Open) return;
        peer.Open = false;
        _now += RoundTripMs;
        if (how == "rst")
        {
            Send(new Packet(peer.Original, TcpFlags.Rst | TcpFlags.Ack, peer.ClientSeq));
            return;
        }
        Send(new Packet(peer.Original, TcpFlags.Fin | TcpFlags.Ack, peer.ClientSeq));
        _now += RoundTripMs;
        Send(new Packet(peer.ReplyTuple, TcpFlags.Fin | TcpFlags.Ack, peer.ServerSeq));
        Send(new Packet(peer.Original, TcpFlags.Ack, peer.ClientSeq + 1));
    }

    private void CloseLater(CloseStep step)
    {
        if (step.How is not ("fin" or "rst")) throw new ParseException($"close \"how\" must be fin or rst, not \"{step.How}\"", step.How);
        var target = _outcomes.FirstOrDefault(o => o.Flow.Label == step.Flow)
                     ?? (int.TryParse(step.Flow, out var idx) ? _outcomes.FirstOrDefault(o => o.Flow.Index == idx) : null)
                     ?? throw new ParseException($"close names no earlier flow: \"{step.Flow}\"", step.Flow);
        // UDP and ICMP sockets just close; a TCP connection sends its FIN or RST.
        if (_tcp.TryGetValue(target.Flow.Index, out var peer)) Close(peer, step.How);
    }

    private void Exec(ExecStep x)
    {
        var cmd = x.Command;
        if (cmd.Count == 0) throw new ParseException("exec needs a command", "exec");
        if (x.Namespace == _scenario.Router && cmd[0] is "ip" or "iptables")
        {
            _path.AdvanceTo(_now);
            _path.Apply(string.Join(' ', cmd.Select(Quote)));
            _routerAddresses = null;
            _exec.Add(new ExecRecord(x.Namespace, cmd, true, ""));
            return;
        }
        if (x.Namespace == _scenario.Router && RouterExec.Parse(cmd) is { } change)
        {
            _path.AdvanceTo(_now);
            _exec.Add(new ExecRecord(x.Namespace, cmd, true, Change(change)));
            return;
        }
        if (x.Namespace != _scenario.Router && PeerAddressChange(cmd) is var (add, address))
        {
            // Another namespace gains or loses an address: whether it answers packets for it (a server, a client).
            if (add) _peers.Add(address); else _peers.Remove(address);
            _exec.Add(new ExecRecord(x.Namespace, cmd, true, ""));
            return;
        }
        if (ReadOnly(cmd))
        {
            // A command that only reads (e.g. the timeout sysctls) changes nothing the simulation models.
            var output = cmd.Any(c => c.Contains("nf_conntrack_") && c.Contains("timeout"))
                ? string.Join('\n', _path.Timeouts.AsSysctlLines()) : "";
            _exec.Add(new ExecRecord(x.Namespace, cmd, false, output));
            return;
        }
        throw new ParseException($"scenario content not supported by the simulation: exec in {x.Namespace}: {string.Join(' ', cmd)}", cmd[0]);
    }

    /// <summary>Applies a conntrack or sysctl change; returns what the tool prints (conntrack's summary line).</summary>
    private string Change(RouterChange change)
    {
        switch (change)
        {
            case ConntrackDeletion d:
                int n = _path.Delete(d.Filter);
                return $"{Commands.ConntrackCommand.Version}: {n} flow entries have been deleted.";
            case SysctlChange s:
                foreach (var (key, value) in s.Assignments) Sysctl(key, value);
                return string.Join('\n', s.Assignments.Select(a => $"{a.Key} = {a.Value}"));
            default:
                throw new ArgumentOutOfRangeException(nameof(change), change, null);
        }
    }

    /// <summary>One sysctl as the router's kernel takes it: timeouts through the path's timeouts, others as a configuration line.</summary>
    private void Sysctl(string key, string value)
    {
        if (key.Contains("nf_conntrack_") && key.Contains("timeout"))
            _path.Timeouts = _path.Timeouts.With(key, int.TryParse(value, out var s) ? s : throw new ParseException($"invalid value \"{value}\" for {key}", value));
        else if (key is not ("net.ipv4.ip_forward" or "net.ipv4.conf.all.forwarding"))
            _path.Apply($"sysctl -w {key}={value}");
    }

    /// <summary>The router's own addresses answer too (the oracle serves a flow from whichever namespace owns its destination).</summary>
    private bool RouterOwns(string address) => (_routerAddresses ??= RouterAddresses()).Contains(address);

    private HashSet<string>? _routerAddresses; // read from the path after configuration; cleared by an exec of `ip`

    private HashSet<string> RouterAddresses() =>
        [.. _path.Config().Addresses.SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(w => w.Contains('/') && IPv4.TryParse(w.Split('/')[0], out _)).Select(w => w.Split('/')[0])];

    /// <summary>`ip [-4] addr|address|a add|del ADDR[/LEN] …`: the address and whether it is added; else null.</summary>
    private static (bool Add, string Address)? PeerAddressChange(IReadOnlyList<string> cmd)
    {
        var words = cmd.Where(w => w != "-4").ToList();
        if (words.Count < 4 || words[0] != "ip" || words[1] is not ("addr" or "address" or "a")) return null;
        if (words[2] is not ("add" or "del" or "delete")) return null;
        var address = words[3].Split('/')[0];
        if (!IPv4.TryParse(address, out _)) throw new ParseException($"invalid address \"{words[3]}\" in exec", words[3]);
        return (words[2] == "add", address);
    }

    private static bool ReadOnly(IReadOnlyList<string> cmd)
    {
        if (cmd[0] == "cat") return true;
        if (cmd[0] is not ("sh" or "bash") || cmd.Count != 3 || cmd[1] != "-c") return false;
        var script = cmd[2];
        string[] writers = [">", "ip ", "iptables", "nft", "sysctl -w", "conntrack -D", "conntrack -F", "tc ", "rm ", "kill"];
        return !writers.Any(script.Contains);
    }

    private ushort Ephemeral() => (ushort)(32768 + _random.NextU32() % (60999 - 32768 + 1));
}
