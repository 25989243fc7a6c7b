using ActorNat.Core.Nat;

namespace ActorNat.Core.Rules;

/// <summary>
/// The ports of `-m multiport --sports/--dports/--ports`: single ports and `a:b` ranges, at most 15 slots (a range
/// takes two), as xt_multiport holds them.
/// </summary>
public sealed record PortList(IReadOnlyList<PortRange> Ranges)
{
    public const int MaxSlots = 15;

    public bool Contains(ushort port)
    {
        foreach (var r in Ranges)
            if (r.Contains(port)) return true;
        return false;
    }

    /// <summary>`80,443,1000:2000`, as iptables reads and prints it.</summary>
    public static PortList Parse(string text)
    {
        var ranges = new List<PortRange>();
        int slots = 0;
        foreach (var part in text.Split(','))
        {
            var r = ToolSyntax.MatchPorts(part, text);
            slots += r.Min == r.Max && !part.Contains(':') ? 1 : 2;
            if (slots > MaxSlots) throw new ParseException("too many ports specified", text);
            ranges.Add(r);
        }
        return new PortList(ranges);
    }

    public bool Equals(PortList? other) => other is not null && Ranges.SequenceEqual(other.Ranges);

    public override int GetHashCode() => Ranges.Count == 0 ? 0 : HashCode.Combine(Ranges.Count, Ranges[0]);

    public override string ToString() => string.Join(',', Ranges.Select(r => r.Min == r.Max ? r.Min.ToString() : $"{r.Min}:{r.Max}"));
}
