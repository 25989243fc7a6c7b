using System.Numerics;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Rules;

namespace ActorNat.Node.Metrics;

/// <summary>
/// Scrape-time metrics of the in-process <see cref="LocalNatBackend"/>: entries by protocol and state, the
/// `conntrack -S` counters, and port-pool use per NAT IP. The packet path is not locked for this: the scan reads the
/// table's entry array while packets may change it (the array of value types only grows, so a read is always in
/// bounds), so one scrape can be off by the entries that changed during it. Counters are 64-bit reads.
/// A configuration change racing the scan can make one scrape skip the pool sizes (logged at debug), never the entries.
/// </summary>
public sealed class LocalBackendMetricsSource(LocalNatBackend backend) : INodeMetricsSource
{
    private static readonly string[] Protocols = ["icmp", "tcp", "udp"];
    private static readonly Protocol[] ProtocolValues = [Protocol.Icmp, Protocol.Tcp, Protocol.Udp];
    private const int States = 16; // TCP states (10) and UNREPLIED/REPLIED/ASSURED for the others

    public void Collect(INodeMetricsWriter w)
    {
        var engine = backend.Engine;
        var table = engine.Table;
        foreach (var (name, value) in engine.Stats.All()) w.ConntrackStat(name, value);
        w.ConntrackMax(table.MaxEntries);

        WriteEntries(table.Live().Select(i => table[i]), engine, w);
    }

    /// <summary>Entries by protocol and state, and port-pool use per NAT IP against what the configuration can hand out.</summary>
    public static void WriteEntries(IEnumerable<ConntrackEntry> entries, NatEngine config, INodeMetricsWriter w)
    {
        var engine = config;
        var counts = new long[3, States];
        var used = new Dictionary<(uint Ip, int Proto), ulong[]>();
        foreach (var e in entries) // copies: each read is one consistent-enough snapshot of an entry
        {
            int p = ProtoIndex(e.State.Proto);
            if (p < 0) continue;
            counts[p, StateIndex(e.State)]++;
            if (!e.Translated) continue;
            var key = (e.NatIp.Value, p);
            if (!used.TryGetValue(key, out var bits)) used[key] = bits = new ulong[1024];
            bits[e.NatPort >> 6] |= 1UL << (e.NatPort & 63);
        }
        for (int p = 0; p < 3; p++)
            for (int s = 0; s < States; s++)
                if (counts[p, s] > 0) w.ConntrackEntries(Protocols[p], StateName(ProtocolValues[p], s), counts[p, s]);

        Dictionary<(uint, int), ulong[]> sizes;
        try
        {
            sizes = PoolSizes(engine);
        }
        catch (InvalidOperationException)
        {
            sizes = []; // the configuration changed during the scan; the next scrape has it
        }
        foreach (var key in used.Keys.Union(sizes.Keys))
        {
            long u = used.TryGetValue(key, out var ub) ? PopCount(ub) : 0;
            long size = sizes.TryGetValue(key, out var sb) ? PopCount(sb) : 0;
            w.PortPool(new IPv4(key.Item1).ToString(), Protocols[key.Item2], u, size);
        }
    }

    private static long PopCount(ulong[] bits)
    {
        long n = 0;
        foreach (var b in bits) n += BitOperations.PopCount(b);
        return n;
    }

    private static int ProtoIndex(Protocol p) => p switch { Protocol.Icmp => 0, Protocol.Tcp => 1, Protocol.Udp => 2, _ => -1 };

    private static int StateIndex(in ConnState s) => s.Proto == Protocol.Tcp
        ? Math.Min((int)s.Tcp, 12)
        : s.Assured ? 13 : s.Replied ? 14 : 15;

    private static string StateName(Protocol p, int s) => p == Protocol.Tcp && s <= 12
        ? ((TcpState)s).Name()
        : s switch { 13 => "ASSURED", 14 => "REPLIED", _ => "UNREPLIED" };

    /// <summary>
    /// The ports each rule can hand out, per NAT IP and protocol (the union over rules): `--to-ports` / the port part of
    /// SNAT `--to-source`, else the kernel's default classes (1-511, 600-1023, 1024-65535; ICMP ids 0-65535).
    /// MASQUERADE counts every primary address of the interfaces its `-o` can match; SNAT its address range (first 256).
    /// </summary>
    private static Dictionary<(uint, int), ulong[]> PoolSizes(NatEngine engine)
    {
        var result = new Dictionary<(uint, int), ulong[]>();
        var rules = engine.Rules.AllRules.ToList();
        var nics = engine.Topology.Interfaces;
        for (int r = 0; r < rules.Count; r++)
        {
            var rule = rules[r];
            if (rule.Target is not (RuleTarget.Masquerade or RuleTarget.Snat)) continue;
            var ips = new List<uint>();
            if (rule.Target == RuleTarget.Snat)
                for (uint ip = rule.ToSourceMin.Value; ip <= rule.ToSourceMax.Value && ips.Count < 256; ip++) ips.Add(ip);
            else
                for (int n = 0; n < nics.Count; n++)
                {
                    var nic = nics[n];
                    if (rule.OutInterface is { } o && Matches(o.Value, nic.Name) == o.Negated) continue;
                    foreach (var a in nic.Primaries) ips.Add(a.Address.Value);
                }
            for (int p = 0; p < 3; p++)
            {
                if (rule.Protocol is { } rp && (rp.Value == ProtocolValues[p]) == rp.Negated) continue;
                foreach (var ip in ips)
                {
                    if (!result.TryGetValue((ip, p), out var bits)) result[(ip, p)] = bits = new ulong[1024];
                    if (ProtocolValues[p] == Protocol.Icmp) SetRange(bits, 0, 65535);
                    else if (rule.Ports is { } range) SetRange(bits, range.Min, range.Max);
                    else
                    {
                        SetRange(bits, 1, 511);
                        SetRange(bits, 600, 1023);
                        SetRange(bits, 1024, 65535);
                    }
                }
            }
        }
        return result;
    }

    private static bool Matches(string pattern, string name) =>
        pattern.EndsWith('+') ? name.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : pattern == name;

    private static void SetRange(ulong[] bits, int min, int max)
    {
        for (int port = min; port <= max; port++) bits[port >> 6] |= 1UL << (port & 63);
    }
}
