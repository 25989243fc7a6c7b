using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

public enum AllocationKind : byte
{
    /// <summary>The client's own address and port were kept (the original tuple is in range and free).</summary>
    Identity,
    /// <summary>An existing mapping of the same client address and port was reused.</summary>
    Reused,
    /// <summary>The NAT address with the client's port kept.</summary>
    PortKept,
    /// <summary>A port found by the search.</summary>
    Searched,
    /// <summary>No free tuple: the packet is dropped and no entry is created.</summary>
    Exhausted,
}

/// <summary>The allocator's answer: the NAT source (address and port or ICMP id) for the new connection.</summary>
public readonly record struct Allocation(AllocationKind Kind, IPv4 Ip, ushort Port, int Probes, int Collisions, int Evictions)
{
    public bool Succeeded => Kind != AllocationKind.Exhausted;
}
