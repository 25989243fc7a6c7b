namespace ActorNat.Core.Conntrack;

/// <summary>The kernel's TCP conntrack states, in the kernel's order (the transition table indexes by it).</summary>
public enum TcpState : byte
{
    None = 0,
    SynSent = 1,
    SynRecv = 2,
    Established = 3,
    FinWait = 4,
    CloseWait = 5,
    LastAck = 6,
    TimeWait = 7,
    Close = 8,
    SynSent2 = 9,
    /// <summary>sIV: the packet is invalid in this state.</summary>
    Invalid = 10,
    /// <summary>sIG: the packet is accepted but changes nothing.</summary>
    Ignore = 11,
}

[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
}

public enum Direction : byte { Original = 0, Reply = 1 }

public static class TcpStateNames
{
    private static readonly string[] Names =
        ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

    public static string Name(this TcpState s) => (int)s < Names.Length ? Names[(int)s] : s.ToString().ToUpperInvariant();

    public static bool TryParse(string text, out TcpState state)
    {
        int i = Array.IndexOf(Names, text.ToUpperInvariant());
        state = i < 0 ? default : (TcpState)i;
        return i >= 0;
    }
}
