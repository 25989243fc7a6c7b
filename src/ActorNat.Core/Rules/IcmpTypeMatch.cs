namespace ActorNat.Core.Rules;

/// <summary>
/// `-p icmp --icmp-type TYPE[/CODE]` (xt_icmp): a type with a code range; type 255 is "any". Names as iptables reads
/// them; printed as iptables -S prints them (numbers).
/// </summary>
public readonly record struct IcmpTypeMatch(byte Type, byte MinCode, byte MaxCode)
{
    private const byte Any = 255;

    private static readonly Dictionary<string, (byte Type, byte Min, byte Max)> Names = new(StringComparer.Ordinal)
    {
        ["any"] = (Any, 0, 255), ["echo-reply"] = (0, 0, 255), ["pong"] = (0, 0, 255),
        ["destination-unreachable"] = (3, 0, 255), ["network-unreachable"] = (3, 0, 0), ["host-unreachable"] = (3, 1, 1),
        ["protocol-unreachable"] = (3, 2, 2), ["port-unreachable"] = (3, 3, 3), ["fragmentation-needed"] = (3, 4, 4),
        ["source-route-failed"] = (3, 5, 5), ["network-unknown"] = (3, 6, 6), ["host-unknown"] = (3, 7, 7),
        ["network-prohibited"] = (3, 9, 9), ["host-prohibited"] = (3, 10, 10), ["TOS-network-unreachable"] = (3, 11, 11),
        ["TOS-host-unreachable"] = (3, 12, 12), ["communication-prohibited"] = (3, 13, 13),
        ["host-precedence-violation"] = (3, 14, 14), ["precedence-cutoff"] = (3, 15, 15), ["source-quench"] = (4, 0, 255),
        ["redirect"] = (5, 0, 255), ["network-redirect"] = (5, 0, 0), ["host-redirect"] = (5, 1, 1),
        ["TOS-network-redirect"] = (5, 2, 2), ["TOS-host-redirect"] = (5, 3, 3), ["echo-request"] = (8, 0, 255),
        ["ping"] = (8, 0, 255), ["router-advertisement"] = (9, 0, 255), ["router-solicitation"] = (10, 0, 255),
        ["time-exceeded"] = (11, 0, 255), ["ttl-exceeded"] = (11, 0, 255), ["ttl-zero-during-transit"] = (11, 0, 0),
        ["ttl-zero-during-reassembly"] = (11, 1, 1), ["parameter-problem"] = (12, 0, 255), ["ip-header-bad"] = (12, 0, 0),
        ["required-option-missing"] = (12, 1, 1), ["timestamp-request"] = (13, 0, 255), ["timestamp-reply"] = (14, 0, 255),
        ["address-mask-request"] = (17, 0, 255), ["address-mask-reply"] = (18, 0, 255),
    };

    /// <summary>icmp_type_code_match: any type, or this type with a code in range.</summary>
    public bool Matches(byte type, byte code) => Type == Any || (type == Type && code >= MinCode && code <= MaxCode);

    public static IcmpTypeMatch Parse(string text)
    {
        if (Names.TryGetValue(text, out var n)) return new(n.Type, n.Min, n.Max);
        var parts = text.Split('/');
        if (parts.Length <= 2 && byte.TryParse(parts[0], System.Globalization.NumberStyles.None, null, out var type))
        {
            if (parts.Length == 1) return new(type, 0, 255);
            if (byte.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out var code)) return new(type, code, code);
        }
        throw new ParseException($"Unknown ICMP type `{text}'", text);
    }

    public override string ToString() =>
        Type == Any ? "any" : MinCode == MaxCode ? $"{Type}/{MinCode}" : Type.ToString();
}
