using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node;

/// <summary>Converts between the wire messages and Core's types, validating every field of a packet.</summary>
public static class PacketMapper
{
    private const uint AllTcpFlags = 0x3f;

    /// <summary>Throws <see cref="RpcException"/> INVALID_ARGUMENT naming the field (prefixed by <paramref name="path"/>) and its value.</summary>
    public static Packet ToPacket(Wire.PacketMeta? m, string path = "packet")
    {
        if (m is null) throw Invalid(path, "missing");
        FieldLimits.Check(m.IdempotencyKey, FieldLimits.IdempotencyKey, $"{path}.idempotency_key");
        if (m.HasIngressInterface) FieldLimits.Check(m.IngressInterface, FieldLimits.InterfaceName, $"{path}.ingress_interface");
        var proto = m.Protocol switch
        {
            Wire.IpProtocol.Tcp => Protocol.Tcp,
            Wire.IpProtocol.Udp => Protocol.Udp,
            Wire.IpProtocol.Icmp => Protocol.Icmp,
            Wire.IpProtocol.Unspecified => throw Invalid($"{path}.protocol", "unspecified", "expected tcp, udp or icmp"),
            _ => throw Invalid($"{path}.protocol", ((int)m.Protocol).ToString(), "unknown protocol (expected tcp=6, udp=17 or icmp=1)"),
        };
        var (src, dst) = Addresses(m.HasSrcIp, m.SrcIp, m.SrcAddress, m.HasDstIp, m.DstIp, m.DstAddress, path);
        if (m.PayloadLength > ushort.MaxValue) throw Invalid($"{path}.payload_length", m.PayloadLength.ToString(), "out of range 0-65535");

        if (proto == Protocol.Icmp)
        {
            if (m.SrcPort != 0) throw Invalid($"{path}.src_port", m.SrcPort.ToString(), "ports are not allowed on icmp (use icmp_id)");
            if (m.DstPort != 0) throw Invalid($"{path}.dst_port", m.DstPort.ToString(), "ports are not allowed on icmp (use icmp_type/icmp_code)");
            if (m.TcpFlags != 0) throw Invalid($"{path}.tcp_flags", m.TcpFlags.ToString(), "tcp flags are not allowed on icmp");
            if (m.TcpSeq != 0) throw Invalid($"{path}.tcp_seq", m.TcpSeq.ToString(), "tcp sequence is not allowed on icmp");
            uint type = m.HasIcmpType ? m.IcmpType : FiveTuple.IcmpEchoRequest;
            uint code = m.HasIcmpCode ? m.IcmpCode : 0;
            uint id = m.HasIcmpId ? m.IcmpId : 0;
            if (type > 255) throw Invalid($"{path}.icmp_type", type.ToString(), "out of range 0-255");
            if (code > 255) throw Invalid($"{path}.icmp_code", code.ToString(), "out of range 0-255");
            if (id > ushort.MaxValue) throw Invalid($"{path}.icmp_id", id.ToString(), "out of range 0-65535");
            FiveTuple? embedded = null;
            if (m.Embedded is { } inner)
            {
                if (!Icmp.IsError((byte)type))
                    throw Invalid($"{path}.embedded", "set", $"only an ICMP error (type 3, 4, 5, 11, 12) quotes a header, not type {type}");
                embedded = Quoted(inner, $"{path}.embedded");
            }
            return new Packet(FiveTuple.Icmp(src, dst, (byte)type, (byte)code, (ushort)id), TcpFlags.None, 0, (ushort)m.PayloadLength) { Embedded = embedded };
        }
        if (m.Embedded is not null) throw Invalid($"{path}.embedded", "set", "only an ICMP error quotes a header");

        var name = proto.Name();
        if (m.HasIcmpType) throw Invalid($"{path}.icmp_type", m.IcmpType.ToString(), $"icmp fields are not allowed on {name}");
        if (m.HasIcmpCode) throw Invalid($"{path}.icmp_code", m.IcmpCode.ToString(), $"icmp fields are not allowed on {name}");
        if (m.HasIcmpId) throw Invalid($"{path}.icmp_id", m.IcmpId.ToString(), $"icmp fields are not allowed on {name}");
        if (m.SrcPort > ushort.MaxValue) throw Invalid($"{path}.src_port", m.SrcPort.ToString(), "out of range 0-65535");
        if (m.DstPort > ushort.MaxValue) throw Invalid($"{path}.dst_port", m.DstPort.ToString(), "out of range 0-65535");
        if (proto != Protocol.Tcp)
        {
            if (m.TcpFlags != 0) throw Invalid($"{path}.tcp_flags", m.TcpFlags.ToString(), $"tcp flags are not allowed on {name}");
            if (m.TcpSeq != 0) throw Invalid($"{path}.tcp_seq", m.TcpSeq.ToString(), $"tcp sequence is not allowed on {name}");
        }
        else if ((m.TcpFlags & ~AllTcpFlags) != 0)
            throw Invalid($"{path}.tcp_flags", $"0x{m.TcpFlags:x}", "unknown flag bits (allowed: FIN SYN RST PSH ACK URG = 0x3f)");
        var tuple = new FiveTuple(proto, src, dst, (ushort)m.SrcPort, (ushort)m.DstPort);
        return new Packet(tuple, (TcpFlags)m.TcpFlags, m.TcpSeq, (ushort)m.PayloadLength);
    }

    /// <summary>The header an ICMP error quotes: validated field by field, as a packet's.</summary>
    private static FiveTuple Quoted(Wire.Tuple t, string path)
    {
        var (src, dst) = Addresses(t.HasSrcIp, t.SrcIp, t.SrcAddress, t.HasDstIp, t.DstIp, t.DstAddress, path);
        switch (t.Protocol)
        {
            case Wire.IpProtocol.Icmp:
                if (t.SrcPort != 0) throw Invalid($"{path}.src_port", t.SrcPort.ToString(), "ports are not allowed on icmp (use icmp_id)");
                if (t.DstPort != 0) throw Invalid($"{path}.dst_port", t.DstPort.ToString(), "ports are not allowed on icmp (use icmp_type/icmp_code)");
                if (t.IcmpType > 255) throw Invalid($"{path}.icmp_type", t.IcmpType.ToString(), "out of range 0-255");
                if (t.IcmpCode > 255) throw Invalid($"{path}.icmp_code", t.IcmpCode.ToString(), "out of range 0-255");
                if (t.IcmpId > ushort.MaxValue) throw Invalid($"{path}.icmp_id", t.IcmpId.ToString(), "out of range 0-65535");
                return FiveTuple.Icmp(src, dst, (byte)t.IcmpType, (byte)t.IcmpCode, (ushort)t.IcmpId);
            case Wire.IpProtocol.Tcp or Wire.IpProtocol.Udp:
                var name = t.Protocol == Wire.IpProtocol.Tcp ? "tcp" : "udp";
                if (t.IcmpType != 0) throw Invalid($"{path}.icmp_type", t.IcmpType.ToString(), $"icmp fields are not allowed on {name}");
                if (t.IcmpCode != 0) throw Invalid($"{path}.icmp_code", t.IcmpCode.ToString(), $"icmp fields are not allowed on {name}");
                if (t.IcmpId != 0) throw Invalid($"{path}.icmp_id", t.IcmpId.ToString(), $"icmp fields are not allowed on {name}");
                if (t.SrcPort > ushort.MaxValue) throw Invalid($"{path}.src_port", t.SrcPort.ToString(), "out of range 0-65535");
                if (t.DstPort > ushort.MaxValue) throw Invalid($"{path}.dst_port", t.DstPort.ToString(), "out of range 0-65535");
                return new FiveTuple(t.Protocol == Wire.IpProtocol.Tcp ? Protocol.Tcp : Protocol.Udp, src, dst, (ushort)t.SrcPort, (ushort)t.DstPort);
            case Wire.IpProtocol.Unspecified:
                throw Invalid($"{path}.protocol", "unspecified", "expected tcp, udp or icmp");
            default:
                throw Invalid($"{path}.protocol", ((int)t.Protocol).ToString(), "unknown protocol (expected tcp=6, udp=17 or icmp=1)");
        }
    }

    /// <summary>Both addresses, binary (src_ip/dst_ip, both set, strings empty) or dotted quads.</summary>
    private static (IPv4 Src, IPv4 Dst) Addresses(bool hasSrcIp, uint srcIp, string srcText, bool hasDstIp, uint dstIp, string dstText, string path)
    {
        if (!hasSrcIp && !hasDstIp) return (Address(srcText, $"{path}.src_address"), Address(dstText, $"{path}.dst_address"));
        if (!hasSrcIp) throw Invalid($"{path}.src_ip", "unset", "set both src_ip and dst_ip, or neither");
        if (!hasDstIp) throw Invalid($"{path}.dst_ip", "unset", "set both src_ip and dst_ip, or neither");
        if (srcText.Length > 0) throw Invalid($"{path}.src_address", $"\"{FieldLimits.Cut(srcText)}\"", "not allowed with src_ip");
        if (dstText.Length > 0) throw Invalid($"{path}.dst_address", $"\"{FieldLimits.Cut(dstText)}\"", "not allowed with dst_ip");
        return (new IPv4(srcIp), new IPv4(dstIp));
    }

    /// <summary>A dotted quad as inet_pton reads it: four decimal octets, no leading zeros (no tool precedent binds here).</summary>
    private static IPv4 Address(string text, string field)
    {
        if (string.IsNullOrEmpty(text)) throw Invalid(field, "\"\"", "an IPv4 address is required");
        if (text.Length > FieldLimits.Address || !IPv4.TryParseStrict(text, out var ip))
            throw Invalid(field, $"\"{FieldLimits.Cut(text)}\"", "not a dotted-quad IPv4 address (four decimal octets 0-255, no leading zeros)");
        return ip;
    }

    /// <summary>Callers cut a caller's value (<see cref="FieldLimits.Cut"/>, inside its quotes); this is the guard for any that did not.</summary>
    public static RpcException Invalid(string field, string value, string? why = null) =>
        new(new Status(StatusCode.InvalidArgument, $"invalid {field}={FieldLimits.Cut(value, FieldLimits.EchoChars + 64)}" + (why is null ? "" : $": {why}")),
            new Metadata { { "field", field } });

    public static Wire.IpProtocol ToApi(Protocol p) => p switch
    {
        Protocol.Tcp => Wire.IpProtocol.Tcp,
        Protocol.Udp => Wire.IpProtocol.Udp,
        Protocol.Icmp => Wire.IpProtocol.Icmp,
        _ => (Wire.IpProtocol)(int)p,
    };

    public static Wire.Tuple ToApi(in FiveTuple t, bool binary = false)
    {
        var m = binary
            ? new Wire.Tuple { Protocol = ToApi(t.Proto), SrcIp = t.Src.Value, DstIp = t.Dst.Value }
            : new Wire.Tuple { Protocol = ToApi(t.Proto), SrcAddress = t.Src.ToString(), DstAddress = t.Dst.ToString() };
        if (t.Proto == Protocol.Icmp) { m.IcmpType = t.IcmpType; m.IcmpCode = t.IcmpCode; m.IcmpId = t.IcmpId; }
        else { m.SrcPort = t.SPort; m.DstPort = t.DPort; }
        return m;
    }

    public static FiveTuple FromApi(Wire.Tuple t)
    {
        var proto = t.Protocol switch { Wire.IpProtocol.Icmp => Protocol.Icmp, Wire.IpProtocol.Tcp => Protocol.Tcp, _ => Protocol.Udp };
        var src = t.HasSrcIp ? new IPv4(t.SrcIp) : IPv4.Parse(t.SrcAddress);
        var dst = t.HasDstIp ? new IPv4(t.DstIp) : IPv4.Parse(t.DstAddress);
        return proto == Protocol.Icmp
            ? FiveTuple.Icmp(src, dst, (byte)t.IcmpType, (byte)t.IcmpCode, (ushort)t.IcmpId)
            : new FiveTuple(proto, src, dst, (ushort)t.SrcPort, (ushort)t.DstPort);
    }

    /// <summary>
    /// A verdict on the wire. Both tuples of the entry follow from the packet and the verdict without a lookup: on the
    /// way out the reply tuple is the inverse of the rewritten packet; on the way back the original is the inverse of
    /// the rewritten packet.
    /// </summary>
    public static Wire.Verdict ToApi(in Verdict v, in Packet packet, string idempotencyKey, bool binary = false)
    {
        var m = new Wire.Verdict
        {
            Action = v.Kind switch
            {
                VerdictKind.Translate => Wire.VerdictAction.Translate,
                VerdictKind.NoNat => Wire.VerdictAction.NoNat,
                VerdictKind.Untracked => Wire.VerdictAction.Untracked,
                _ => Wire.VerdictAction.Drop,
            },
            Rewritten = ToApi(v.Rewritten, binary),
            DropReason = v.Kind == VerdictKind.Drop ? v.Reason.Name() : "",
            ConntrackId = v.ConntrackId,
            Direction = v.Direction == Direction.Reply ? Wire.PacketDirection.Reply : Wire.PacketDirection.Original,
            Created = v.Created,
            IdempotencyKey = idempotencyKey,
        };
        var fix = Checksums.ToFix(v, packet);
        for (int bit = 0; bit < 4; bit++)
            if (((int)fix & (1 << bit)) != 0) m.Checksums.Add((Wire.ChecksumFix)(bit + 1));
        if (v.Related)
        {
            // The connection's tuples follow from the quoted header: it was a packet of the other direction.
            m.Related = true;
            m.EmbeddedRewritten = ToApi(v.Embedded!.Value, binary);
            var quoted = packet.Embedded!.Value;
            if (v.Direction == Direction.Reply)
            {
                m.Original = ToApi(v.Embedded!.Value, binary); // the client's packet as it left the client
                m.Reply = ToApi(quoted.Invert(), binary);
            }
            else
            {
                m.Original = ToApi(quoted.Invert(), binary);
                m.Reply = ToApi(v.Embedded!.Value, binary);    // the server's packet as it left the server
            }
        }
        else if (v.Kind is VerdictKind.Translate or VerdictKind.NoNat)
        {
            if (v.Direction == Direction.Original)
            {
                m.Original = ToApi(packet.Tuple, binary);
                m.Reply = ToApi(v.Rewritten.Invert(), binary);
            }
            else
            {
                m.Original = ToApi(v.Rewritten.Invert(), binary);
                m.Reply = ToApi(packet.Tuple, binary);
            }
        }
        return m;
    }

    public static Wire.ConntrackEntry ToApi(ConntrackRecord r)
    {
        var e = r.Entry;
        return new Wire.ConntrackEntry
        {
            Id = e.Id,
            Original = ToApi(e.Original),
            Reply = ToApi(e.Reply),
            State = e.Original.Proto == Protocol.Tcp ? e.State.Tcp.Name() : "",
            TimeoutSeconds = (ulong)Math.Max(0, r.TimeoutSeconds),
            Unreplied = !e.State.Replied,
            Assured = e.State.Assured,
            Node = r.Node,
            Line = r.Line,
        };
    }

    /// <summary>Rebuilds an entry from the wire for <see cref="ConntrackFormatter"/>, which prints conntrack-tools' exact layout.</summary>
    public static ConntrackEntry FromApi(Wire.ConntrackEntry m)
    {
        var original = FromApi(m.Original);
        var state = new ConnState
        {
            Proto = original.Proto,
            ExpiresMs = (long)m.TimeoutSeconds * 1000,
            Status = (m.Unreplied ? ConnStatus.None : ConnStatus.SeenReply) | (m.Assured ? ConnStatus.Assured : ConnStatus.None),
        };
        if (original.Proto == Protocol.Tcp && TcpStateNames.TryParse(m.State, out var tcp)) state.Tcp = tcp;
        return new ConntrackEntry { Id = m.Id, Original = original, Reply = FromApi(m.Reply), State = state };
    }

    /// <summary>A `conntrack -L` line from the wire (timeout as the node reported it).</summary>
    public static string Format(Wire.ConntrackEntry m, bool withId = false) => ConntrackFormatter.Format(FromApi(m), 0, withId);

    public static ConntrackFilter ToFilter(Wire.ConntrackFilter? f)
    {
        if (f is null) return ConntrackFilter.All;
        Protocol? proto = f.Protocol switch
        {
            Wire.IpProtocol.Unspecified => null,
            Wire.IpProtocol.Tcp => Protocol.Tcp,
            Wire.IpProtocol.Udp => Protocol.Udp,
            Wire.IpProtocol.Icmp => Protocol.Icmp,
            _ => throw Invalid("filter.protocol", ((int)f.Protocol).ToString(), "unknown protocol"),
        };
        IPv4? src = string.IsNullOrEmpty(f.SrcAddress) ? null : Address(f.SrcAddress, "filter.src_address");
        IPv4? dst = string.IsNullOrEmpty(f.DstAddress) ? null : Address(f.DstAddress, "filter.dst_address");
        if (f.HasSrcPort && f.SrcPort > ushort.MaxValue) throw Invalid("filter.src_port", f.SrcPort.ToString(), "out of range 0-65535");
        if (f.HasDstPort && f.DstPort > ushort.MaxValue) throw Invalid("filter.dst_port", f.DstPort.ToString(), "out of range 0-65535");
        TcpState? state = null;
        if (!string.IsNullOrEmpty(f.State))
        {
            if (f.State.Length > FieldLimits.StateName || !TcpStateNames.TryParse(f.State, out var s))
                throw Invalid("filter.state", $"\"{FieldLimits.Cut(f.State)}\"", "unknown TCP state");
            state = s;
        }
        return new ConntrackFilter(proto, src, dst,
            f.HasSrcPort ? (ushort)f.SrcPort : null, f.HasDstPort ? (ushort)f.DstPort : null, state, f.HasId ? f.Id : null);
    }
}
