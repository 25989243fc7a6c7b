using System.Diagnostics.CodeAnalysis;

namespace ActorNat.Core.Net;

/// <summary>An IPv4 network in CIDR form. The network is stored masked, so 10.0.2.15/24 equals 10.0.2.0/24.</summary>
public readonly record struct Prefix
{
    public IPv4 Network { get; }
    public int Length { get; }

    public Prefix(IPv4 address, int length)
    {
        if (length is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(length), length, "prefix length must be 0-32");
        Length = length;
        Network = new IPv4(address.Value & MaskOf(length));
    }

    public static readonly Prefix Default = new(default, 0);

    public uint Mask => MaskOf(Length);

    public static uint MaskOf(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    public bool Contains(IPv4 address) => (address.Value & Mask) == Network.Value;

    /// <summary>Parses "A.B.C.D/N" or a bare address (a /32 host route, as iproute2 and iptables read it).</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Prefix prefix)
    {
        prefix = default;
        if (text is null) return false;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            if (!IPv4.TryParse(text, out var host)) return false;
            prefix = new Prefix(host, 32);
            return true;
        }
        if (!IPv4.TryParse(text.AsSpan(0, slash), out var ip)) return false;
        var lenText = text.AsSpan(slash + 1);
        if (lenText.Length is 0 or > 2 || !int.TryParse(lenText, out var len) || len is < 0 or > 32) return false;
        prefix = new Prefix(ip, len);
        return true;
    }

    public static Prefix Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"invalid prefix '{text}'");

    public override string ToString() => $"{Network}/{Length}";
}
