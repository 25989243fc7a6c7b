using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>An IPv4/IPv6 address as python's <c>ipaddress.ip_address</c> parses it (strict dotted quad for IPv4).</summary>
internal readonly record struct IpAddr(int Bits, UInt128 Value) : IComparable<IpAddr>
{
    public static bool TryParse(string? s, out IpAddr ip)
    {
        ip = default;
        if (s is null) return false;
        if (s.Contains(':'))
        {
            if (!IPAddress.TryParse(s, out var a) || a.AddressFamily != AddressFamily.InterNetworkV6) return false;
            UInt128 v = 0;
            foreach (var b in a.GetAddressBytes()) v = (v << 8) | b;
            ip = new IpAddr(128, v);
            return true;
        }
        var parts = s.Split('.');
        if (parts.Length != 4) return false;
        uint x = 0;
        foreach (var p in parts)
        {
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0')) return false;
            var n = int.Parse(p, CultureInfo.InvariantCulture);
            if (n > 255) return false;
            x = (x << 8) | (uint)n;
        }
        ip = new IpAddr(32, x);
        return true;
    }

    /// <summary><c>ipaddress.ip_address(s)</c>; throws <see cref="FormatException"/> like python's ValueError.</summary>
    public static IpAddr Parse(string? s) =>
        TryParse(s, out var ip) ? ip : throw new FormatException($"{s ?? "None"} does not appear to be an IPv4 or IPv6 address");

    public int CompareTo(IpAddr other) =>
        Bits != other.Bits ? Bits.CompareTo(other.Bits) : Value.CompareTo(other.Value);

    public static bool operator <=(IpAddr a, IpAddr b) => a.Bits == b.Bits && a.Value <= b.Value;
    public static bool operator >=(IpAddr a, IpAddr b) => a.Bits == b.Bits && a.Value >= b.Value;
    public static bool operator <(IpAddr a, IpAddr b) => a.Bits == b.Bits && a.Value < b.Value;
    public static bool operator >(IpAddr a, IpAddr b) => a.Bits == b.Bits && a.Value > b.Value;

    public override string ToString()
    {
        if (Bits == 32) { var v = (uint)Value; return $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"; }
        var bytes = new byte[16];
        var w = Value;
        for (int i = 15; i >= 0; i--) { bytes[i] = (byte)(w & 0xFF); w >>= 8; }
        return new IPAddress(bytes).ToString();
    }
}

/// <summary>A network as <c>ipaddress.ip_network(s, strict=False)</c> builds it; also the address of an interface.</summary>
internal readonly record struct IpNet(IpAddr Network, int Prefix)
{
    public bool Contains(IpAddr a) => a.Bits == Network.Bits && (a.Value & Mask(Network.Bits, Prefix)) == Network.Value;

    public override string ToString() => $"{Network}/{Prefix}";

    private static UInt128 Mask(int bits, int prefix)
    {
        if (prefix == 0) return 0;
        UInt128 all = bits == 32 ? uint.MaxValue : UInt128.MaxValue;
        return (all << (bits - prefix)) & all;
    }

    /// <summary><c>ip_network(s, strict=False)</c>; throws <see cref="FormatException"/> on bad input.</summary>
    public static IpNet Parse(string s) { var (ip, prefix) = ParseInterface(s); return Of(ip, prefix); }

    public static IpNet Of(IpAddr ip, int prefix) => new(new IpAddr(ip.Bits, ip.Value & Mask(ip.Bits, prefix)), prefix);

    /// <summary><c>ip_interface(s)</c>: the address and its prefix length.</summary>
    public static (IpAddr Ip, int Prefix) ParseInterface(string s)
    {
        var slash = s.Split('/');
        if (slash.Length > 2) throw new FormatException("bad network " + s);
        var ip = IpAddr.Parse(slash[0]);
        if (slash.Length == 1) return (ip, ip.Bits);
        var p = slash[1];
        if (p.Length > 0 && p.All(char.IsAsciiDigit) && p.Length <= 3)
        {
            var n = int.Parse(p, CultureInfo.InvariantCulture);
            if (n > ip.Bits) throw new FormatException("bad prefix " + s);
            return (ip, n);
        }
        if (ip.Bits == 32 && IpAddr.TryParse(p, out var m))
        {
            // a netmask (255.255.0.0) or a host mask (0.0.255.255)
            foreach (var v in new[] { (uint)m.Value, ~(uint)m.Value })
            {
                int len = System.Numerics.BitOperations.PopCount(v);
                if (Mask(32, len) == v) return (ip, len);
            }
        }
        throw new FormatException("bad prefix " + s);
    }
}
