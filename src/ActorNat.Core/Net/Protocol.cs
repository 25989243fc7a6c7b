namespace ActorNat.Core.Net;

/// <summary>The IP protocols ActorNat tracks, with their IANA numbers (what conntrack prints after the name).</summary>
public enum Protocol : byte
{
    Icmp = 1,
    Tcp = 6,
    Udp = 17,
}

public static class ProtocolNames
{
    public static string Name(this Protocol p) => p switch
    {
        Protocol.Icmp => "icmp",
        Protocol.Tcp => "tcp",
        Protocol.Udp => "udp",
        _ => ((byte)p).ToString(),
    };

    public static bool TryParse(string? text, out Protocol protocol)
    {
        switch (text?.ToLowerInvariant())
        {
            case "tcp" or "6": protocol = Protocol.Tcp; return true;
            case "udp" or "17": protocol = Protocol.Udp; return true;
            case "icmp" or "1": protocol = Protocol.Icmp; return true;
            default: protocol = default; return false;
        }
    }

    public static bool HasPorts(this Protocol p) => p is Protocol.Tcp or Protocol.Udp;
}
