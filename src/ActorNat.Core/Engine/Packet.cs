using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Core.Engine;

/// <summary>The metadata of one packet as the data plane reports it: its tuple, TCP flags, sequence number and payload length.</summary>
public readonly record struct Packet(FiveTuple Tuple, TcpFlags Flags = TcpFlags.None, uint Seq = 0, ushort PayloadLength = 0)
{
    /// <summary>
    /// For an ICMP error (types 3, 4, 5, 11, 12): the header of the packet it quotes, as it arrived (addresses, and
    /// ports or ICMP type/code/id). Null for any other packet, or for an error that quotes nothing usable.
    /// </summary>
    public FiveTuple? Embedded { get; init; }

    /// <summary>seq + payload + SYN + FIN: the sequence space the segment ends at (segment_seq_plus_len).</summary>
    public uint SeqEnd => Seq + PayloadLength + ((Flags & TcpFlags.Syn) != 0 ? 1u : 0u) + ((Flags & TcpFlags.Fin) != 0 ? 1u : 0u);
}
