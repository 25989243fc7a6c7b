using System.Text;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Rules;

public enum RuleTarget { Masquerade, Snat, Accept, Return }

/// <summary>A match that may be negated with '!' (`! -o docker0`).</summary>
public readonly record struct Negatable<T>(T Value, bool Negated);

/// <summary>
/// One POSTROUTING rule of the nat table. Matches: -s, -d, -p, -o (with '!', and '+' as an interface wildcard),
/// --sport/--dport; targets MASQUERADE, SNAT, ACCEPT and RETURN (the last two stop NAT for the connection).
/// </summary>
public sealed record NatRule
{
    public Negatable<Prefix>? Source { get; init; }
    public Negatable<Prefix>? Destination { get; init; }
    public Negatable<Protocol>? Protocol { get; init; }
    public Negatable<string>? OutInterface { get; init; }
    public Negatable<PortRange>? SourcePort { get; init; }
    public Negatable<PortRange>? DestinationPort { get; init; }

    public RuleTarget Target { get; init; }
    /// <summary>MASQUERADE --to-ports, or the port part of SNAT --to-source.</summary>
    public PortRange? Ports { get; init; }
    public bool Random { get; init; }
    public bool RandomFully { get; init; }
    /// <summary>SNAT --to-source address range.</summary>
    public IPv4 ToSourceMin { get; init; }
    public IPv4 ToSourceMax { get; init; }
    public bool Persistent { get; init; }

    public bool Matches(in FiveTuple original, string outInterface)
    {
        if (Source is { } s && s.Value.Contains(original.Src) == s.Negated) return false;
        if (Destination is { } d && d.Value.Contains(original.Dst) == d.Negated) return false;
        if (Protocol is { } p && (p.Value == original.Proto) == p.Negated) return false;
        if (OutInterface is { } o && InterfaceMatches(o.Value, outInterface) == o.Negated) return false;
        if (SourcePort is { } sp && (original.Proto.HasPorts() && sp.Value.Contains(original.SPort)) == sp.Negated) return false;
        if (DestinationPort is { } dp && (original.Proto.HasPorts() && dp.Value.Contains(original.DPort)) == dp.Negated) return false;
        return true;
    }

    private static bool InterfaceMatches(string pattern, string name) =>
        pattern.EndsWith('+') ? name.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : pattern == name;

    /// <summary>The rule in `iptables -t nat -S` form (without the leading "-A POSTROUTING").</summary>
    public string Spec()
    {
        var sb = new StringBuilder();
        void Opt<T>(Negatable<T>? n, string flag, Func<T, string> show)
        {
            if (n is not { } v) return;
            if (sb.Length > 0) sb.Append(' ');
            if (v.Negated) sb.Append("! ");
            sb.Append(flag).Append(' ').Append(show(v.Value));
        }
        Opt(Source, "-s", p => p.ToString());
        Opt(Destination, "-d", p => p.ToString());
        Opt(OutInterface, "-o", o => o);
        Opt(Protocol, "-p", p => p.Name());
        if (SourcePort is not null || DestinationPort is not null)
        {
            sb.Append(" -m ").Append(Protocol?.Value.Name());
            Opt(SourcePort, "--sport", r => r.ToString(':'));
            Opt(DestinationPort, "--dport", r => r.ToString(':'));
        }
        if (sb.Length > 0) sb.Append(' ');
        sb.Append("-j ").Append(Target switch
        {
            RuleTarget.Masquerade => "MASQUERADE",
            RuleTarget.Snat => "SNAT",
            RuleTarget.Accept => "ACCEPT",
            _ => "RETURN",
        });
        if (Target == RuleTarget.Masquerade && Ports is { } ports) sb.Append(" --to-ports ").Append(ports);
        if (Target == RuleTarget.Snat)
        {
            sb.Append(" --to-source ").Append(ToSourceMin);
            if (ToSourceMax != ToSourceMin) sb.Append('-').Append(ToSourceMax);
            if (Ports is { } p) sb.Append(':').Append(p);
        }
        if (Random) sb.Append(" --random");
        if (RandomFully) sb.Append(" --random-fully");
        if (Persistent) sb.Append(" --persistent");
        return sb.ToString();
    }

    public override string ToString() => "-A POSTROUTING " + Spec();
}
