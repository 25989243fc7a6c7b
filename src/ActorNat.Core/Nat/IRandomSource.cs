namespace ActorNat.Core.Nat;

/// <summary>Where the allocator's random starts come from (the kernel's get_random_u16), injectable for determinism.</summary>
public interface IRandomSource
{
    ushort NextU16();
}

/// <summary>A seeded xorshift64* generator: fast, allocation-free, and the same sequence for the same seed.</summary>
public sealed class SeededRandom(ulong seed) : IRandomSource
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;

    public ulong NextU64()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 0x2545F4914F6CDD1DUL;
    }

    public ushort NextU16() => (ushort)(NextU64() >> 48);
    public uint NextU32() => (uint)(NextU64() >> 32);
}
