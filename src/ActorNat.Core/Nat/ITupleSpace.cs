using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

/// <summary>
/// The set of reply tuples in use, as the allocator sees it. A single node's conntrack table implements it; in the
/// cluster a port-pool entity implements it over the reply tuples of its own port block.
/// </summary>
public interface ITupleSpace
{
    /// <summary>Is this tuple held by a live entry (in either direction)?</summary>
    bool IsTaken(in FiveTuple tuple);

    /// <summary>
    /// For a new TCP SYN in the last 32 tries of a round: when the holder of <paramref name="reply"/> is a source-NATed
    /// TCP entry in TIME_WAIT or CLOSE whose original-direction sequence end lies before <paramref name="synSeqEnd"/>,
    /// destroy it and answer true (the tuple is free now).
    /// </summary>
    bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd);

    /// <summary>
    /// Mapping reuse (the kernel's bysource table): the newest live entry with the same protocol, client address and
    /// client port whose NAT address and port lie in <paramref name="range"/>.
    /// </summary>
    bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in NatRange range, out IPv4 natIp, out ushort natPort);
}
