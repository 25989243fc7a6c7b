using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Routing;
using ActorNat.Core.Rules;

namespace ActorNat.Core.Engine;

/// <summary>
/// One NAT box: topology, rules, conntrack table and allocator together, as the kernel runs them for each packet.
/// A packet of a known connection is rewritten from its entry (no rule is evaluated); the first packet of a new one
/// goes through routing, the rules and the allocator, and its entry is inserted only when a tuple was found.
/// </summary>
public sealed class NatEngine
{
    private readonly IClock _clock;
    private readonly IRandomSource _random;
    private ulong _nextId;

    public NatEngine(IClock clock, IRandomSource random, ConntrackTimeouts? timeouts = null, int maxEntries = ConntrackLimit.DefaultMax, ulong firstId = 1)
    {
        _clock = clock;
        _random = random;
        Timeouts = timeouts ?? ConntrackTimeouts.Default;
        Table = new ConntrackTable(1024, maxEntries);
        _nextId = firstId;
    }

    public Topology Topology { get; } = new();
    public RuleSet Rules { get; } = new();
    public ConntrackTable Table { get; }
    public ConntrackStats Stats => Table.Stats;
    public ConntrackTimeouts Timeouts { get; set; }
    public long NowMs => _clock.NowMs;

    public Verdict Process(in Packet packet)
    {
        var now = _clock.NowMs;
        Table.NowMs = now;
        Table.Sweep();
        var tuple = packet.Tuple;
        switch (IcmpErrors.Classify(packet, out var related))
        {
            case TrackStep.Error:
                Stats.Error++;
                return Verdict.Untracked(tuple);
            case TrackStep.Related:
                return Related(packet, related);
        }

        if (Table.TryLookup(tuple, out var i, out var dir))
        {
            ref var e = ref Table[i];
            var outcome = ConnTracker.Update(ref e.State, dir, packet.Flags, packet.SeqEnd, now, Timeouts);
            switch (outcome)
            {
                case PacketOutcome.Invalid:
                    Stats.Invalid++;
                    return Verdict.Dropped(DropReason.Invalid, tuple);
                case PacketOutcome.Kill:
                {
                    var v = Rewrite(ref e, dir, tuple);
                    Table.Destroy(i, DestroyReason.Killed);
                    return v;
                }
                case PacketOutcome.Reopen:
                    Table.Destroy(i, DestroyReason.Reopened);
                    return New(packet, now);
                default:
                    Table.Touch(i);
                    return Rewrite(ref e, dir, tuple);
            }
        }
        return New(packet, now);
    }

    /// <summary>An ICMP error: RELATED to the connection of the header it quotes, or not tracked (counted error).</summary>
    private Verdict Related(in Packet packet, in FiveTuple lookup)
    {
        if (Table.TryLookup(lookup, out var i, out var dir) && IcmpErrors.TryTranslate(Table[i], dir, packet, out var v)) return v;
        Stats.Error++;
        return Verdict.Untracked(packet.Tuple);
    }

    /// <summary>The fast path: rewrite from the entry (source on the way out, destination on the way back).</summary>
    private static Verdict Rewrite(ref ConntrackEntry e, Direction dir, in FiveTuple tuple)
    {
        var kind = e.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        var rewritten = dir == Direction.Original
            ? tuple.WithSource(e.NatIp, e.NatPort)
            : tuple.WithDestination(e.Original.Src, e.Original.Key);
        return new Verdict(kind, DropReason.None, rewritten, dir, e.Id, false);
    }

    private Verdict New(in Packet packet, long now)
    {
        var tuple = packet.Tuple;
        if (ConnTracker.Start(out var state, tuple, packet.Flags, packet.SeqEnd, now, Timeouts) == PacketOutcome.Invalid)
        {
            Stats.Invalid++;
            return Verdict.InvalidNew(tuple);
        }
        var decision = NatPolicy.Decide(Topology, Rules, tuple);
        if (decision.Kind == DecisionKind.Drop)
        {
            Stats.Drop++;
            return Verdict.Dropped(decision.Reason, tuple);
        }
        // The kernel makes room (early drop) before NAT allocates: a freed tuple may be the one handed out.
        if (!Table.MakeRoom())
        {
            Stats.Drop++;
            return Verdict.Dropped(DropReason.TableFull, tuple);
        }
        var table = Table;
        bool syn = tuple.Proto == Protocol.Tcp && state.Tcp == TcpState.SynSent;
        var alloc = PortAllocator.Allocate(ref table, tuple, decision.Range, syn, packet.SeqEnd, _random);
        if (!alloc.Succeeded)
        {
            Stats.InsertFailed++;
            Stats.Drop++;
            return Verdict.Dropped(DropReason.PortsExhausted, tuple);
        }
        var reply = PortAllocator.ReplyFor(tuple, alloc.Ip, alloc.Port);
        if (alloc.Ip != tuple.Src || alloc.Port != tuple.Key) state.Status |= ConnStatus.SrcNat;
        int i = Table.Insert(_nextId, tuple, reply, state, decision.Masquerade ? decision.OutInterface : null);
        if (i < 0)
        {
            Stats.Drop++;
            return Verdict.Dropped(DropReason.TableFull, tuple);
        }
        _nextId++;
        ref var e = ref Table[i];
        var kind = e.Translated ? VerdictKind.Translate : VerdictKind.NoNat;
        return new Verdict(kind, DropReason.None, tuple.WithSource(alloc.Ip, alloc.Port), Direction.Original, e.Id, true);
    }

    /// <summary>Applies an `iptables -t nat …` line.</summary>
    public void Apply(RuleCommand command) => Rules.Apply(command);

    /// <summary>
    /// Applies an `ip addr|route|link …` line. Removing an address destroys the entries masqueraded to it on that
    /// interface; downing an interface destroys those masqueraded out of it (nf_nat_masquerade.c).
    /// </summary>
    public void Apply(IpCommand command)
    {
        Table.NowMs = _clock.NowMs;
        switch (command)
        {
            case AddressCommand { Add: true } a:
                Topology.AddAddress(a.Device, a.Address, a.PrefixLength);
                break;
            case AddressCommand a:
                foreach (var gone in Topology.RemoveAddress(a.Device, a.Address, a.PrefixLength))
                    DestroyWhere(e => NatRules.MasqueradeGone(e, a.Device, gone.Address), DestroyReason.AddressRemoved);
                break;
            case RouteCommand { Verb: "add" } r:
                Topology.AddRoute(r.Destination, r.Gateway, r.Device, r.Metric ?? 0, r.Source, r.OnLink, r.Type);
                break;
            case RouteCommand { Verb: "replace" } r:
                if (Topology.StaticRoutes.Any(x => x.Destination == r.Destination && x.Metric == (r.Metric ?? 0)))
                    Topology.RemoveRoute(r.Destination, null, null, r.Metric ?? 0);
                Topology.AddRoute(r.Destination, r.Gateway, r.Device, r.Metric ?? 0, r.Source, r.OnLink, r.Type);
                break;
            case RouteCommand r:
                Topology.RemoveRoute(r.Destination, r.Gateway, r.Device, r.Metric);
                break;
            case LinkCommand l:
                Topology.SetLink(l.Device, l.Up);
                if (!l.Up) DestroyWhere(e => NatRules.MasqueradeGone(e, l.Device, null), DestroyReason.InterfaceDown);
                break;
        }
    }

    /// <summary>Parses and applies one configuration line: `iptables …` or `ip …`.</summary>
    public void Apply(string line)
    {
        var words = CommandLine.Split(line);
        if (words.Count == 0) return;
        if (words[0] == "iptables" || words[0] == "-t") Apply(IptablesParser.Parse(words));
        else if (words[0] == "ip") Apply(IpCommandParser.Parse(words));
        else if (words[0] == "sysctl") ApplySysctl(words);
        else throw new ParseException($"unknown command \"{words[0]}\" (expected iptables, ip or sysctl)", words[0]);
    }

    /// <summary>`sysctl -w KEY=VALUE`: the conntrack timeouts (net.netfilter.nf_conntrack_*timeout*), nf_conntrack_max and promote_secondaries.</summary>
    private void ApplySysctl(IReadOnlyList<string> words)
    {
        var assignment = words.Skip(1).Where(w => w != "-w" && w != "-q").ToList();
        if (assignment.Count != 1 || assignment[0].Split('=') is not [var key, var value])
            throw new ParseException("expected \"sysctl -w KEY=VALUE\"", words.Count > 1 ? words[^1] : words[0]);
        key = key.Trim().Replace('/', '.');
        if (key is "net.ipv4.conf.all.promote_secondaries" or "net.ipv4.conf.default.promote_secondaries")
        {
            Topology.PromoteSecondaries = value.Trim() == "1";
            return;
        }
        if (ConntrackLimit.IsLimitKey(key, out var readOnly))
        {
            if (readOnly) throw new ParseException($"sysctl: setting key \"{ConntrackLimit.CountKey}\": Invalid argument", key);
            Table.MaxEntries = ConntrackLimit.ParseMax(value);
            return;
        }
        if (!int.TryParse(value.Trim(), out var seconds)) throw new ParseException($"invalid value \"{value}\" for {key}", value);
        Timeouts = Timeouts.With(key, seconds);
    }

    /// <summary>
    /// The conntrack sysctls as `sysctl -a` prints them (`net.netfilter.nf_conntrack_max = 262144`), sorted by name;
    /// <paramref name="count"/> is nf_conntrack_count (the table's, or the cluster's).
    /// </summary>
    public IEnumerable<string> SysctlListing(long count) =>
        Timeouts.AsSysctlLines().Append($"nf_conntrack_max={Table.MaxEntries}").Append($"nf_conntrack_count={count}")
            .Select(l => "net.netfilter." + l.Replace("=", " = ")).Order(StringComparer.Ordinal);

    /// <summary>`sysctl KEY` for one conntrack sysctl (dots or slashes), or null when this engine has no such key.</summary>
    public string? ReadSysctl(string key, long count)
    {
        var k = ConntrackLimit.Normalize(key);
        return SysctlListing(count).FirstOrDefault(l => l.StartsWith(k + " = ", StringComparison.Ordinal));
    }

    public int DestroyWhere(Func<ConntrackEntry, bool> predicate, DestroyReason reason)
    {
        int n = 0;
        foreach (var i in Table.Live().ToList())
            if (predicate(Table[i])) { Table.Destroy(i, reason); n++; }
        return n;
    }

    /// <summary>Live entries, as of now.</summary>
    public IEnumerable<ConntrackEntry> Entries()
    {
        Table.NowMs = _clock.NowMs;
        foreach (var i in Table.Live()) yield return Table[i];
    }
}
