using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

/// <summary>
/// The kernel's get_unique_tuple for source NAT (nf_nat_core.c), step by step:
/// keep the original tuple when it is already in range; reuse a live mapping of the same client ip:port; pick the
/// address (SNAT hash); keep the port when it is in range and free; else search from a random start, at most
/// min(size, 128) tries, then rounds of 64, 32, 16, 8 from new random starts. For a TCP SYN the last 32 tries of a
/// round may evict a TIME_WAIT/CLOSE holder. --random/--random-fully skip everything but the search.
/// Allocation-free; generic over the tuple space so the call is devirtualised.
/// </summary>
public static class PortAllocator
{
    private const int MaxAttempts = 128;   // NF_NAT_MAX_ATTEMPTS
    private const int HarderThreshold = 32; // NF_NAT_HARDER_THRESH

    /// <param name="original">The connection's ORIGINAL tuple (before NAT).</param>
    /// <param name="tcpSyn">The connection starts with a TCP SYN (its new entry is in SYN_SENT).</param>
    /// <param name="synSeqEnd">That SYN's sequence number + 1, for the TIME_WAIT eviction test.</param>
    public static Allocation Allocate<TSpace>(ref TSpace space, in FiveTuple original, in NatRange range,
        bool tcpSyn, uint synSeqEnd, IRandomSource random) where TSpace : ITupleSpace
    {
        var first = KeepOrReuse(ref space, original, range);
        return first.Succeeded ? first : Fresh(ref space, original, range, tcpSyn, synSeqEnd, random, first.Probes, first.Collisions);
    }

    /// <summary>
    /// Step 1 (skipped with --random): the original tuple when it is already in range, else a live mapping of the same
    /// client ip:port. Answers <see cref="AllocationKind.Exhausted"/> when neither applies or its tuple is taken.
    /// The cluster runs this in the pool of the candidate's address, and <see cref="Fresh"/> in the pool of the hashed one.
    /// </summary>
    public static Allocation KeepOrReuse<TSpace>(ref TSpace space, in FiveTuple original, in NatRange range) where TSpace : ITupleSpace
    {
        int probes = 0, collisions = 0;
        ushort key = original.Key;
        if (range.Random) return new Allocation(AllocationKind.Exhausted, default, 0, 0, 0, 0);
        if (range.Contains(original.Src, key))
        {
            probes++;
            if (!space.IsTaken(ReplyFor(original, original.Src, key)))
                return new Allocation(AllocationKind.Identity, original.Src, key, probes, collisions, 0);
            collisions++;
        }
        else if (space.TryFindBySource(original.Proto, original.Src, key, range, out var reuseIp, out var reusePort))
        {
            probes++;
            if (!space.IsTaken(ReplyFor(original, reuseIp, reusePort)))
                return new Allocation(AllocationKind.Reused, reuseIp, reusePort, probes, collisions, 0);
            collisions++;
        }
        return new Allocation(AllocationKind.Exhausted, default, 0, probes, collisions, 0);
    }

    /// <summary>Where step 1 would look: the original source when in range, else the newest in-range mapping; null for none.</summary>
    public static IPv4? KeepOrReuseAddress<TSpace>(ref TSpace space, in FiveTuple original, in NatRange range) where TSpace : ITupleSpace
    {
        if (range.Random) return null;
        if (range.Contains(original.Src, original.Key)) return original.Src;
        return space.TryFindBySource(original.Proto, original.Src, original.Key, range, out var ip, out _) ? ip : null;
    }

    /// <summary>Steps 2-4: the address by the SNAT hash, the port kept when in range and free, else the search.</summary>
    public static Allocation Fresh<TSpace>(ref TSpace space, in FiveTuple original, in NatRange range,
        bool tcpSyn, uint synSeqEnd, IRandomSource random, int probes = 0, int collisions = 0) where TSpace : ITupleSpace
    {
        ushort key = original.Key;
        var ip = SnatHash.Pick(range, original.Src, original.Dst);

        if (!range.Random)
        {
            if (range.Ports is { } ports)
            {
                if (ports.Contains(key))
                {
                    probes++;
                    bool taken = space.IsTaken(ReplyFor(original, ip, key));
                    if (!taken) return new Allocation(AllocationKind.PortKept, ip, key, probes, collisions, 0);
                    collisions++;
                    // A one-port range is taken as it is; the clash then drops the packet at confirmation.
                    if (ports.Size == 1) return new Allocation(AllocationKind.Exhausted, ip, key, probes, collisions, 0);
                }
            }
            else
            {
                probes++;
                if (!space.IsTaken(ReplyFor(original, ip, key)))
                    return new Allocation(AllocationKind.PortKept, ip, key, probes, collisions, 0);
                collisions++;
            }
        }

        var search = range.Ports ?? (original.Proto == Protocol.Icmp ? PortRange.AllIds : PortRange.ClassOf(key));
        return Search(ref space, original, ip, search, tcpSyn, synSeqEnd, random, probes, collisions);
    }

    /// <summary>nf_nat_l4proto_unique_tuple: the bounded, randomly started linear search with halving rounds.</summary>
    private static Allocation Search<TSpace>(ref TSpace space, in FiveTuple original, IPv4 ip, PortRange range,
        bool tcpSyn, uint synSeqEnd, IRandomSource random, int probes, int collisions) where TSpace : ITupleSpace
    {
        uint min = range.Min;
        uint size = (uint)range.Size;
        ushort off = random.NextU16(); // u16 in the kernel: it wraps at 65536, which gives the small modulo bias seen there
        int attempts = (int)Math.Min(size, MaxAttempts);
        int evictions = 0;
        bool harder = tcpSyn && original.Proto == Protocol.Tcp;
        while (true)
        {
            for (int i = 0; i < attempts; i++, off++)
            {
                var port = (ushort)(min + off % size);
                var reply = ReplyFor(original, ip, port);
                probes++;
                if (!space.IsTaken(reply))
                    return new Allocation(AllocationKind.Searched, ip, port, probes, collisions, evictions);
                collisions++;
                if (harder && attempts - i <= HarderThreshold && space.TryEvictForSyn(reply, synSeqEnd))
                    return new Allocation(AllocationKind.Searched, ip, port, probes, collisions, evictions + 1);
            }
            if (attempts >= size || attempts < 16)
                return new Allocation(AllocationKind.Exhausted, ip, 0, probes, collisions, evictions);
            attempts /= 2;
            off = random.NextU16();
        }
    }

    /// <summary>The REPLY tuple a connection would have with this NAT source.</summary>
    public static FiveTuple ReplyFor(in FiveTuple original, IPv4 natIp, ushort natPort) =>
        original.WithSource(natIp, natPort).Invert();
}
