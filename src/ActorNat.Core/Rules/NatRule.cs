using System.Text;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Rules;

public enum RuleTarget { Masquerade, Snat, Accept, Return, Chain, None }

/// <summary>Which ports `-m multiport` compares: --sports, --dports, or --ports (either).</summary>
public enum MultiportKind { Source, Destination, Either }

/// <summary>A match that may be negated with '!' (`! -o docker0`).</summary>
public readonly record struct Negatable<T>(T Value, bool Negated);

/// <summary>
/// One rule of the nat table's POSTROUTING chain or of a user chain. Matches: -s, -d, -p, -o (with '!', and '+' as an
/// interface wildcard), --sport/--dport, --icmp-type, `-m multiport`, `-m comment`; targets MASQUERADE, SNAT, ACCEPT, RETURN, and a
/// user chain by `-j` (jump: come back) or `-g` (goto: do not come back).
/// </summary>
public sealed record NatRule
{
    public Negatable<Prefix>? Source { get; init; }
    public Negatable<Prefix>? Destination { get; init; }
    public Negatable<Protocol>? Protocol { get; init; }
    public Negatable<string>? OutInterface { get; init; }
    public Negatable<PortRange>? SourcePort { get; init; }
    public Negatable<PortRange>? DestinationPort { get; init; }
    public Negatable<IcmpTypeMatch>? IcmpType { get; init; }
    public Negatable<PortList>? Multiport { get; init; }
    public MultiportKind MultiportKind { get; init; }
    /// <summary>`-m comment --comment TEXT`: kept and listed, never matched.</summary>
    public string? Comment { get; init; }

    public RuleTarget Target { get; init; }
    /// <summary>The user chain of `-j CHAIN` / `-g CHAIN` (Target is <see cref="RuleTarget.Chain"/>).</summary>
    public string? ChainTarget { get; init; }
    public bool Goto { get; init; }
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
        if (IcmpType is { } it && (original.Proto == Net.Protocol.Icmp && it.Value.Matches(original.IcmpType, original.IcmpCode)) == it.Negated) return false;
        if (Multiport is { } mp && MultiportMatches(mp.Value, original) == mp.Negated) return false;
        return true;
    }

    private bool MultiportMatches(PortList ports, in FiveTuple t) => t.Proto.HasPorts() && MultiportKind switch
    {
        MultiportKind.Source => ports.Contains(t.SPort),
        MultiportKind.Destination => ports.Contains(t.DPort),
        _ => ports.Contains(t.SPort) || ports.Contains(t.DPort),
    };

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
        if (IcmpType is not null)
        {
            sb.Append(" -m icmp");
            Opt(IcmpType, "--icmp-type", t => t.ToString());
        }
        if (Multiport is not null)
        {
            sb.Append(" -m multiport");
            Opt(Multiport, MultiportKind switch { MultiportKind.Source => "--sports", MultiportKind.Destination => "--dports", _ => "--ports" }, l => l.ToString());
        }
        if (Comment is not null) sb.Append(" -m comment --comment ").Append(QuoteComment(Comment));
        if (sb.Length > 0 && sb[0] == ' ') sb.Remove(0, 1);
        if (Target == RuleTarget.None) return sb.ToString(); // no target: a rule that only matches
        if (sb.Length > 0) sb.Append(' ');
        sb.Append(Goto ? "-g " : "-j ").Append(Target switch
        {
            RuleTarget.Masquerade => "MASQUERADE",
            RuleTarget.Snat => "SNAT",
            RuleTarget.Accept => "ACCEPT",
            RuleTarget.Chain => ChainTarget,
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

    /// <summary>As iptables-save quotes a string: only when it holds a space or a character the shell would read.</summary>
    private static string QuoteComment(string text) =>
        text.Length > 0 && text.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '/' or ',' or '+' or '@' or '=')
            ? text : "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    public override string ToString() => "-A POSTROUTING " + Spec();
}
