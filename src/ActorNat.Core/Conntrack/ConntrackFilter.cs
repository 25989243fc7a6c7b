using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

/// <summary>conntrack -L/-D/-C filters: `-p`, `-s`, `-d`, `--sport`, `--dport`, `--state`, `--id`. Null means any.</summary>
public sealed record ConntrackFilter(
    Protocol? Protocol = null, IPv4? Source = null, IPv4? Destination = null,
    ushort? SourcePort = null, ushort? DestinationPort = null, TcpState? State = null, ulong? Id = null)
{
    public static readonly ConntrackFilter All = new();

    /// <summary>As conntrack-tools: addresses and ports are matched against the ORIGINAL tuple.</summary>
    public bool Matches(in ConntrackEntry e)
    {
        if (Id is { } id && e.Id != id) return false;
        if (Protocol is { } p && e.Original.Proto != p) return false;
        if (Source is { } s && e.Original.Src != s) return false;
        if (Destination is { } d && e.Original.Dst != d) return false;
        if (SourcePort is { } sp && (!e.Original.Proto.HasPorts() || e.Original.SPort != sp)) return false;
        if (DestinationPort is { } dp && (!e.Original.Proto.HasPorts() || e.Original.DPort != dp)) return false;
        if (State is { } st && (e.Original.Proto != Net.Protocol.Tcp || e.State.Tcp != st)) return false;
        return true;
    }
}

/// <summary>A conntrack entry as a listing shows it: the entry, its remaining seconds and the node that holds it.</summary>
public sealed record ConntrackRecord(ConntrackEntry Entry, long TimeoutSeconds, string Node)
{
    public string Line => ConntrackFormatter.FormatWithRemaining(Entry, TimeoutSeconds);
}
