using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

[Flags]
public enum ConnStatus : byte
{
    None = 0,
    /// <summary>IPS_SEEN_REPLY: a packet went the other way; without it the entry shows [UNREPLIED].</summary>
    SeenReply = 1,
    /// <summary>IPS_ASSURED.</summary>
    Assured = 2,
    /// <summary>IPS_SRC_NAT: the source was rewritten (only such entries may be evicted from TIME_WAIT).</summary>
    SrcNat = 4,
    /// <summary>IP_CT_TCP_FLAG_CLOSE_INIT seen in some direction: a FIN started the close.</summary>
    CloseInit = 8,
}

/// <summary>
/// The per-connection protocol state of a conntrack entry: a small value type that the single-node table and the
/// cluster's conntrack entity both hold, and <see cref="ConnTracker"/> updates.
/// </summary>
public struct ConnState
{
    public Protocol Proto;
    public TcpState Tcp;
    public ConnStatus Status;
    /// <summary>The last TCP packet kind and its direction (the kernel's last_index / last_dir).</summary>
    public TcpStateTable.Index LastIndex;
    public Direction LastDir;
    /// <summary>The highest sequence end seen from the client (td_end of the original direction).</summary>
    public uint OrigSeqEnd;
    public long CreatedMs;
    public long ExpiresMs;

    public readonly bool Replied => (Status & ConnStatus.SeenReply) != 0;
    public readonly bool Assured => (Status & ConnStatus.Assured) != 0;

    public readonly bool IsExpired(long nowMs) => nowMs >= ExpiresMs;

    /// <summary>Remaining lifetime in whole seconds, as conntrack -L prints it.</summary>
    public readonly long RemainingSeconds(long nowMs) => Math.Max(0, ExpiresMs - nowMs) / 1000;
}
