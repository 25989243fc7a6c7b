namespace ActorNat.Core.Conntrack;

/// <summary>
/// nf_conntrack_proto_tcp.c's tcp_conntracks[direction][packet kind][old state], and get_conntrack_index.
/// </summary>
public static class TcpStateTable
{
    public enum Index : byte { Syn, SynAck, Fin, Ack, Rst, None }

    private const TcpState sNO = TcpState.None, sSS = TcpState.SynSent, sSR = TcpState.SynRecv, sES = TcpState.Established,
        sFW = TcpState.FinWait, sCW = TcpState.CloseWait, sLA = TcpState.LastAck, sTW = TcpState.TimeWait,
        sCL = TcpState.Close, sS2 = TcpState.SynSent2, sIV = TcpState.Invalid, sIG = TcpState.Ignore;

    // Columns: sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
    private static readonly TcpState[,,] Table =
    {
        { // ORIGINAL
            /*syn*/    { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
            /*synack*/ { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
            /*fin*/    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
            /*ack*/    { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
            /*rst*/    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
            /*none*/   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
        },
        { // REPLY
            /*syn*/    { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
            /*synack*/ { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
            /*fin*/    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
            /*ack*/    { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
            /*rst*/    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
            /*none*/   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
        },
    };

    public static Index IndexOf(TcpFlags flags) =>
        (flags & TcpFlags.Rst) != 0 ? Index.Rst
        : (flags & TcpFlags.Syn) != 0 ? ((flags & TcpFlags.Ack) != 0 ? Index.SynAck : Index.Syn)
        : (flags & TcpFlags.Fin) != 0 ? Index.Fin
        : (flags & TcpFlags.Ack) != 0 ? Index.Ack
        : Index.None;

    public static TcpState Next(Direction dir, Index index, TcpState old) => Table[(int)dir, (int)index, (int)old];

    /// <summary>tcp_error's valid flag combinations (ECE, CWR and PSH ignored).</summary>
    public static bool ValidFlags(TcpFlags flags)
    {
        var f = flags & (TcpFlags.Fin | TcpFlags.Syn | TcpFlags.Rst | TcpFlags.Ack | TcpFlags.Urg);
        return f is TcpFlags.Syn or (TcpFlags.Syn | TcpFlags.Urg) or (TcpFlags.Syn | TcpFlags.Ack)
            or TcpFlags.Rst or (TcpFlags.Rst | TcpFlags.Ack) or (TcpFlags.Fin | TcpFlags.Ack)
            or (TcpFlags.Fin | TcpFlags.Ack | TcpFlags.Urg) or TcpFlags.Ack or (TcpFlags.Ack | TcpFlags.Urg);
    }
}
