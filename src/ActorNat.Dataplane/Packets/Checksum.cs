using System.Buffers.Binary;

namespace ActorNat.Dataplane.Packets;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624, equation 3: HC' = ~(~HC + ~m + m')), which
/// stays correct where the older RFC 1141 form produced -0. Pure: no I/O.
/// </summary>
public static class Checksum
{
    /// <summary>The checksum field after one 16-bit word of the covered data changed from <paramref name="old"/> to <paramref name="now"/>.</summary>
    public static ushort Update16(ushort check, ushort old, ushort now)
    {
        uint sum = (uint)(~check & 0xffff) + (uint)(~old & 0xffff) + now;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The checksum field after a 32-bit value (an address) changed.</summary>
    public static ushort Update32(ushort check, uint old, uint now) =>
        Update16(Update16(check, (ushort)(old >> 16), (ushort)(now >> 16)), (ushort)old, (ushort)now);

    /// <summary>The one's-complement sum of the data, folded to 16 bits (not inverted), starting from <paramref name="initial"/>.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong sum = initial;
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (uint)sum;
    }

    /// <summary>The checksum over the data (the field itself must read 0, or be skipped by the caller).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>The IPv4 pseudo-header's sum for TCP/UDP: source, destination, protocol, L4 length.</summary>
    public static uint PseudoHeader(uint src, uint dst, byte protocol, int l4Length)
    {
        ulong sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + protocol + (uint)l4Length;
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (uint)sum;
    }
}
