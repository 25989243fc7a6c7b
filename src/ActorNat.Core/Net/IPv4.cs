using System.Diagnostics.CodeAnalysis;

namespace ActorNat.Core.Net;

/// <summary>An IPv4 address held as a host-order 32-bit number (so ranges and prefixes are plain arithmetic).</summary>
public readonly record struct IPv4(uint Value) : IComparable<IPv4>
{
    public static IPv4 Parse(string text) =>
        TryParse(text, out var ip) ? ip : throw new FormatException($"invalid IPv4 address '{text}'");

    public static bool TryParse([NotNullWhen(true)] string? text, out IPv4 address) =>
        TryParse(text.AsSpan(), out address);

    /// <summary>Dotted quad only: four decimal octets 0-255, no leading '+', no shorthand like "10.1".</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IPv4 address)
    {
        address = default;
        uint value = 0;
        int octets = 0, i = 0;
        while (i <= text.Length && octets < 4)
        {
            int start = i, octet = 0;
            while (i < text.Length && text[i] >= '0' && text[i] <= '9')
            {
                octet = octet * 10 + (text[i] - '0');
                if (octet > 255 || i - start >= 3) return false;
                i++;
            }
            if (i == start) return false;
            value = (value << 8) | (uint)octet;
            octets++;
            if (octets < 4)
            {
                if (i >= text.Length || text[i] != '.') return false;
                i++;
            }
        }
        if (octets != 4 || i != text.Length) return false;
        address = new IPv4(value);
        return true;
    }

    /// <summary>As inet_pton: a dotted quad of decimal octets with no leading zeros ("010.0.0.1" is refused).</summary>
    public static bool TryParseStrict(ReadOnlySpan<char> text, out IPv4 address)
    {
        address = default;
        if (!TryParse(text, out var ip)) return false;
        for (int i = 0; i + 1 < text.Length; i++)
            if (text[i] == '0' && (i == 0 || text[i - 1] == '.') && text[i + 1] is >= '0' and <= '9') return false;
        address = ip;
        return true;
    }

    /// <summary>
    /// As `ip` (get_addr_ipv4) and `iptables` (xtables_numeric_to_ipaddr) read an address: one to four parts separated
    /// by dots, each read by strtoul with base 0 (so "010" is octal 8 and "0x10" is 16) and at most 255; missing
    /// trailing parts are 0 ("10.1" is 10.1.0.0).
    /// </summary>
    public static bool TryParseTool(ReadOnlySpan<char> text, out IPv4 address)
    {
        address = default;
        uint value = 0;
        int parts = 0;
        while (true)
        {
            int dot = text.IndexOf('.');
            var part = dot < 0 ? text : text[..dot];
            if (parts == 4 || !TryStrtoulByte(part, out var b)) return false;
            value = value << 8 | b;
            parts++;
            if (dot < 0) break;
            text = text[(dot + 1)..];
        }
        address = new IPv4(value << (8 * (4 - parts)));
        return true;
    }

    /// <summary>strtoul(text, base 0) consuming all of it, 0-255: decimal, 0-prefixed octal, 0x-prefixed hex.</summary>
    private static bool TryStrtoulByte(ReadOnlySpan<char> t, out uint value)
    {
        bool ok = Rules.ToolSyntax.TryStrtoul(t, out var v) && v <= 255;
        value = ok ? (uint)v : 0;
        return ok;
    }

    public int CompareTo(IPv4 other) => Value.CompareTo(other.Value);

    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}";
}
