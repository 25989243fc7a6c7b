using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Rules;

/// <summary>
/// The words `iptables` and `ip` read the same way, with their own refusals and messages (recorded on this machine in
/// tests/ActorNat.Core.Tests/Unit/tool-answers): addresses as inet_aton-like strtoul parts (octal and hex included),
/// prefix lengths with base 0, port ranges that refuse min &gt; max, and interface names the kernel can hold.
/// </summary>
public static class ToolSyntax
{
    /// <summary>IFNAMSIZ - 1.</summary>
    public const int MaxInterfaceName = 15;

    /// <summary>`ADDR[/LEN]` as `iptables -s` and `ip addr add` read it ("010.0.0.1" is 8.0.0.1, "/010" is /8).</summary>
    public static bool TryParsePrefix(string text, out Prefix prefix)
    {
        prefix = default;
        var slash = text.IndexOf('/');
        if (!IPv4.TryParseTool(slash < 0 ? text : text.AsSpan(0, slash), out var ip)) return false;
        int len = 32;
        if (slash >= 0 && !TryParseMask(text.AsSpan(slash + 1), out len)) return false;
        prefix = new Prefix(ip, len);
        return true;
    }

    /// <summary>A prefix length: strtoul base 0, 0-32.</summary>
    public static bool TryParseMask(ReadOnlySpan<char> text, out int length)
    {
        length = 0;
        if (!TryStrtoul(text, out var v) || v > 32) return false;
        length = (int)v;
        return true;
    }

    /// <summary>strtoul(text, NULL, 0) consuming the whole word: decimal, 0-prefixed octal, 0x-prefixed hex.</summary>
    public static bool TryStrtoul(ReadOnlySpan<char> t, out ulong value)
    {
        value = 0;
        if (t.IsEmpty) return false;
        int radix = 10, i = 0;
        if (t.Length > 1 && t[0] == '0' && t[1] is 'x' or 'X') { radix = 16; i = 2; }
        else if (t[0] == '0') radix = 8;
        if (i == t.Length) return false;
        for (; i < t.Length; i++)
        {
            int d = t[i] switch
            {
                >= '0' and <= '9' => t[i] - '0',
                >= 'a' and <= 'f' => t[i] - 'a' + 10,
                >= 'A' and <= 'F' => t[i] - 'A' + 10,
                _ => 99,
            };
            if (d >= radix) return false;
            value = value * (ulong)radix + (ulong)d;
            if (value > uint.MaxValue) return false;
        }
        return true;
    }

    /// <summary>
    /// An interface name the kernel could hold (dev_valid_name): 1-15 characters, none of '/', ':', whitespace or a
    /// control character. Null when valid, else the reason.
    /// </summary>
    public static string? InterfaceNameProblem(string name)
    {
        if (name.Length == 0) return "empty";
        if (name.Length > MaxInterfaceName) return $"longer than {MaxInterfaceName} characters";
        if (name is "." or "..") return "\".\" and \"..\" are not interface names";
        foreach (var c in name)
            if (c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c))
                return $"'{Printable(c)}' is not allowed in an interface name ('/', ':', whitespace and control characters are not)";
        return null;
    }

    /// <summary>A port range as the NAT targets read it (`--to-ports`, `--to-source …:p1-p2`): 0-65535, min ≤ max.</summary>
    public static PortRange NatPorts(string text, string token)
    {
        var dash = text.IndexOf('-');
        var lo = dash < 0 ? text : text[..dash];
        var hi = dash < 0 ? null : text[(dash + 1)..];
        var min = NatPort(lo, token);
        var max = hi is null ? min : NatPort(hi, token);
        // libxt_MASQUERADE/libipt_SNAT parse_ports: xtables_exit_error "Port range `%s' funky" naming the upper part.
        if (max < min) throw new ParseException($"Port range `{hi}' funky", token);
        return new PortRange(min, max);
    }

    private static ushort NatPort(string text, string token)
    {
        if (!ushort.TryParse(text, System.Globalization.NumberStyles.None, null, out var p))
            throw new ParseException($"Port `{text}' not valid", token);
        return p;
    }

    /// <summary>A match's port or range (`--sport 1000:2000`): names or numbers 0-65535, min ≤ max.</summary>
    public static PortRange MatchPorts(string text, string token)
    {
        var colon = text.IndexOf(':');
        var lo = colon < 0 ? text : text[..colon];
        var hi = colon < 0 ? null : text[(colon + 1)..];
        ushort min = lo.Length == 0 && colon >= 0 ? (ushort)0 : MatchPort(lo, token);
        ushort max = hi is null ? min : hi.Length == 0 ? ushort.MaxValue : MatchPort(hi, token);
        if (min > max) throw new ParseException("invalid portrange (min > max)", token);
        return new PortRange(min, max);
    }

    private static ushort MatchPort(string text, string token) =>
        ushort.TryParse(text, System.Globalization.NumberStyles.None, null, out var p) ? p
            : throw new ParseException($"invalid port/service `{text}' specified", token);

    public static string Printable(char c) => c switch
    {
        '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\0' => "\\0",
        _ when char.IsControl(c) => $"\\x{(int)c:x2}",
        _ => c.ToString(),
    };
}
