using System.Buffers.Binary;
using System.Numerics;
using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

/// <summary>
/// The address the kernel picks from an SNAT --to-source range (nf_nat_core.c find_best_ips_proto): Bob Jenkins'
/// jhash2 over the client address, seeded with the server address (0 with --persistent), scaled onto the range.
/// The kernel reads the network-order address bytes as a little-endian u32 (x86), and so do we.
/// </summary>
public static class SnatHash
{
    public static IPv4 Pick(in NatRange range, IPv4 client, IPv4 server)
    {
        if (range.MinIp == range.MaxIp) return range.MinIp;
        uint initval = range.Persistent ? 0u : WireWord(server);
        uint j = JHash2(WireWord(client), 0, 0, 0, initval);
        ulong count = range.MaxIp.Value - range.MinIp.Value + 1UL;
        return new IPv4(range.MinIp.Value + (uint)((j * count) >> 32));
    }

    private static uint WireWord(IPv4 ip) => BinaryPrimitives.ReverseEndianness(ip.Value);

    /// <summary>lookup3's hash of four 32-bit words (jhash2 with length 4).</summary>
    public static uint JHash2(uint k0, uint k1, uint k2, uint k3, uint initval)
    {
        uint a, b, c;
        a = b = c = 0xdeadbeef + (4u << 2) + initval;
        a += k0; b += k1; c += k2;
        // __jhash_mix
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
        a += k3;
        // __jhash_final
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
        return c;
    }
}
