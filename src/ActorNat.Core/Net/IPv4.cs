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

    public int CompareTo(IPv4 other) => Value.CompareTo(other.Value);

    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}";
}
