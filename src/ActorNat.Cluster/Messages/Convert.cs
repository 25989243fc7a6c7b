using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using CoreRange = ActorNat.Core.Nat.NatRange;
using CorePorts = ActorNat.Core.Nat.PortRange;

namespace ActorNat.Cluster.Messages;

/// <summary>Core values to and from their protobuf form.</summary>
public static class Convert
{
    public static Tuple ToMsg(this in FiveTuple t) => new()
        { Proto = (uint)t.Proto, Src = t.Src.Value, Dst = t.Dst.Value, Sport = t.SPort, Dport = t.DPort };

    public static FiveTuple ToCore(this Tuple t) => new((Protocol)t.Proto, new IPv4(t.Src), new IPv4(t.Dst), (ushort)t.Sport, (ushort)t.Dport);

    public static Packet ToMsg(this in Core.Engine.Packet p)
    {
        var m = new Packet { Tuple = p.Tuple.ToMsg(), TcpFlags = (uint)p.Flags, Seq = p.Seq, PayloadLength = p.PayloadLength };
        if (p.Embedded is { } e) m.Embedded = e.ToMsg();
        return m;
    }

    public static Core.Engine.Packet ToCore(this Packet p) =>
        new(p.Tuple.ToCore(), (TcpFlags)p.TcpFlags, p.Seq, (ushort)p.PayloadLength) { Embedded = p.Embedded?.ToCore() };

    public static ConnState ToMsg(this in Core.Conntrack.ConnState s) => new()
    {
        Proto = (uint)s.Proto, Tcp = (uint)s.Tcp, Status = (uint)s.Status, LastIndex = (uint)s.LastIndex,
        LastDir = (uint)s.LastDir, OrigSeqEnd = s.OrigSeqEnd, CreatedMs = s.CreatedMs, ExpiresMs = s.ExpiresMs,
    };

    public static Core.Conntrack.ConnState ToCore(this ConnState s) => new()
    {
        Proto = (Protocol)s.Proto, Tcp = (TcpState)s.Tcp, Status = (ConnStatus)s.Status,
        LastIndex = (TcpStateTable.Index)s.LastIndex, LastDir = (Direction)s.LastDir, OrigSeqEnd = s.OrigSeqEnd,
        CreatedMs = s.CreatedMs, ExpiresMs = s.ExpiresMs,
    };

    public static Verdict ToMsg(this in Core.Engine.Verdict v)
    {
        var m = new Verdict
        {
            Kind = (uint)v.Kind, Reason = (uint)v.Reason, Rewritten = v.Rewritten.ToMsg(), Direction = (uint)v.Direction,
            ConntrackId = v.ConntrackId, Created = v.Created,
        };
        if (v.Embedded is { } e) m.Embedded = e.ToMsg();
        return m;
    }

    public static Core.Engine.Verdict ToCore(this Verdict v) => new((VerdictKind)v.Kind, (Core.Nat.DropReason)v.Reason,
        v.Rewritten.ToCore(), (Direction)v.Direction, v.ConntrackId, v.Created) { Embedded = v.Embedded?.ToCore() };

    /// <summary>The tuple a packet is found by: its own, or for an ICMP error the inverse of the header it quotes.</summary>
    public static FiveTuple LookupKey(this Packet p)
    {
        var t = p.Tuple.ToCore();
        return p.Embedded is { } e && t.Proto == Protocol.Icmp && Icmp.IsError(t.IcmpType) ? e.ToCore().Invert() : t;
    }

    public static NatRange ToMsg(this in CoreRange r) => new()
    {
        MinIp = r.MinIp.Value, MaxIp = r.MaxIp.Value, HasPorts = r.Ports is not null, MinPort = r.Ports?.Min ?? 0,
        MaxPort = r.Ports?.Max ?? 0, Random = r.Random, Persistent = r.Persistent,
    };

    public static CoreRange ToCore(this NatRange r) => new(new IPv4(r.MinIp), new IPv4(r.MaxIp),
        r.HasPorts ? new CorePorts((ushort)r.MinPort, (ushort)r.MaxPort) : null, r.Random, r.Persistent);

    public static EntryFilter ToMsg(this ConntrackFilter f)
    {
        var m = new EntryFilter { Proto = (uint)(f.Protocol ?? 0) };
        if (f.Source is { } s) m.Src = s.Value;
        if (f.Destination is { } d) m.Dst = d.Value;
        if (f.SourcePort is { } sp) m.Sport = sp;
        if (f.DestinationPort is { } dp) m.Dport = dp;
        if (f.State is { } st) m.State = (uint)st;
        if (f.Id is { } id) m.Id = id;
        return m;
    }

    public static ConntrackFilter ToCore(this EntryFilter m) => new(
        m.Proto == 0 ? null : (Protocol)m.Proto,
        m.HasSrc ? new IPv4(m.Src) : null, m.HasDst ? new IPv4(m.Dst) : null,
        m.HasSport ? (ushort)m.Sport : null, m.HasDport ? (ushort)m.Dport : null,
        m.HasState ? (TcpState)m.State : null, m.HasId ? m.Id : null);

    public static Entry ToMsg(this in ConntrackEntry e, string node) => new()
    {
        Id = e.Id, Original = e.Original.ToMsg(), Reply = e.Reply.ToMsg(), State = e.State.ToMsg(),
        MasqueradeInterface = e.MasqueradeInterface ?? "", Node = node,
    };

    public static ConntrackEntry ToCore(this Entry e) => new()
    {
        Id = e.Id, Original = e.Original.ToCore(), Reply = e.Reply.ToCore(), State = e.State.ToCore(),
        MasqueradeInterface = e.MasqueradeInterface.Length == 0 ? null : e.MasqueradeInterface,
    };
}
