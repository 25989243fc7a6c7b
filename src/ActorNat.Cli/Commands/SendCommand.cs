using System.CommandLine;
using System.Globalization;
using ActorNat.Core.Conntrack;
using ActorNat.Node;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat send`: one packet's metadata to a node; prints the verdict.</summary>
public static class SendCommand
{
    public static Command Create()
    {
        var proto = new Option<string>("--proto", "-p") { Description = "tcp, udp or icmp (or 6, 17, 1).", Required = true, HelpName = "PROTO" };
        var src = new Option<string>("--src", "-s") { Description = "Source address.", Required = true, HelpName = "IP" };
        var dst = new Option<string>("--dst", "-d") { Description = "Destination address.", Required = true, HelpName = "IP" };
        var sport = new Option<uint>("--sport") { Description = "Source port (TCP/UDP).", HelpName = "PORT" };
        var dport = new Option<uint>("--dport") { Description = "Destination port (TCP/UDP).", HelpName = "PORT" };
        var icmpType = new Option<uint?>("--icmp-type") { Description = "ICMP type (default 8, echo request).", HelpName = "N" };
        var icmpCode = new Option<uint?>("--icmp-code") { Description = "ICMP code (default 0).", HelpName = "N" };
        var icmpId = new Option<uint?>("--icmp-id") { Description = "ICMP echo id.", HelpName = "N" };
        var flags = new Option<string?>("--flags") { Description = "TCP flags: names joined by ',' (SYN,ACK,FIN,RST,PSH,URG), or a number (0x12).", HelpName = "FLAGS" };
        var seq = new Option<uint>("--seq") { Description = "TCP sequence number.", HelpName = "N" };
        var payload = new Option<uint>("--payload") { Description = "Payload length in bytes.", HelpName = "BYTES" };
        var iif = new Option<string?>("--iif") { Description = "Ingress interface.", HelpName = "IF" };
        var key = new Option<string?>("--idempotency-key") { Description = "Idempotency key, echoed in the verdict (at most 128 characters). (--key is the TLS client key.)", HelpName = "KEY" };

        var cmd = new Command("send", """
            Send one packet's metadata to a node and print its verdict and conntrack entry.

            Example:
              actornat send -p udp -s 172.18.0.2 --sport 38000 -d 192.0.2.53 --dport 53
              actornat send -p tcp -s 172.18.0.2 --sport 38001 -d 192.0.2.80 --dport 80 --flags SYN --seq 1000
            """)
        {
            proto, src, dst, sport, dport, icmpType, icmpCode, icmpId, flags, seq, payload, iif, key,
        };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var m = new Wire.PacketMeta
            {
                Protocol = ParseProtocol(parse.GetValue(proto)!),
                SrcAddress = parse.GetValue(src)!,
                DstAddress = parse.GetValue(dst)!,
                SrcPort = parse.GetValue(sport),
                DstPort = parse.GetValue(dport),
                TcpFlags = ParseFlags(parse.GetValue(flags)),
                TcpSeq = parse.GetValue(seq),
                PayloadLength = parse.GetValue(payload),
                IdempotencyKey = parse.GetValue(key) ?? "",
            };
            if (parse.GetValue(icmpType) is { } t) m.IcmpType = t;
            if (parse.GetValue(icmpCode) is { } cd) m.IcmpCode = cd;
            if (parse.GetValue(icmpId) is { } id) m.IcmpId = id;
            if (parse.GetValue(iif) is { } i) m.IngressInterface = i;
            var v = await c.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = m, WithEntry = true }, c.Headers, cancellationToken: ct);
            foreach (var line in Describe(v)) await c.Out.WriteLineAsync(line);
            return 0;
        }));
        return cmd;
    }

    /// <summary>The verdict as text: the action, the rewritten packet, and the entry as `conntrack -L` prints it.</summary>
    public static IEnumerable<string> Describe(Wire.Verdict v)
    {
        var action = v.Action switch
        {
            Wire.VerdictAction.Translate => "TRANSLATE",
            Wire.VerdictAction.NoNat => "NO_NAT",
            Wire.VerdictAction.Drop => "DROP",
            _ => v.Action.ToString().ToUpperInvariant(),
        };
        yield return v.Action == Wire.VerdictAction.Drop ? $"verdict: DROP reason={v.DropReason}" : $"verdict: {action}";
        if (v.Action == Wire.VerdictAction.Drop) yield break;
        yield return $"rewritten: {PacketMapper.FromApi(v.Rewritten)}";
        yield return $"conntrack: id={v.ConntrackId} direction={(v.Direction == Wire.PacketDirection.Reply ? "reply" : "original")}{(v.Created ? " new" : "")}";
        if (v.Original is not null && v.Reply is not null)
        {
            var entry = new Wire.ConntrackEntry
            {
                Id = v.ConntrackId, Original = v.Original, Reply = v.Reply, State = v.State, TimeoutSeconds = v.TimeoutSeconds,
                Unreplied = v.Flags.Contains("UNREPLIED"), Assured = v.Flags.Contains("ASSURED"),
            };
            yield return $"entry: {PacketMapper.Format(entry)}";
        }
    }

    public static Wire.IpProtocol ParseProtocol(string text) => text.ToLowerInvariant() switch
    {
        "tcp" or "6" => Wire.IpProtocol.Tcp,
        "udp" or "17" => Wire.IpProtocol.Udp,
        "icmp" or "1" => Wire.IpProtocol.Icmp,
        // Any other number goes to the node, which names it in its INVALID_ARGUMENT.
        _ when int.TryParse(text, out var n) => (Wire.IpProtocol)n,
        _ => throw new UsageException($"unknown protocol \"{text}\" (expected tcp, udp or icmp)"),
    };

    public static uint ParseFlags(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return 0;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex) ? hex
                : throw new UsageException($"bad --flags \"{text}\"");
        if (uint.TryParse(text, out var n)) return n;
        uint f = 0;
        foreach (var part in text.Split([',', '|', '+'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            f |= part.ToUpperInvariant() switch
            {
                "FIN" or "F" => (uint)TcpFlags.Fin,
                "SYN" or "S" => (uint)TcpFlags.Syn,
                "RST" or "R" => (uint)TcpFlags.Rst,
                "PSH" or "P" => (uint)TcpFlags.Psh,
                "ACK" or "A" => (uint)TcpFlags.Ack,
                "URG" or "U" => (uint)TcpFlags.Urg,
                _ => throw new UsageException($"bad --flags \"{text}\": unknown flag \"{part}\" (FIN SYN RST PSH ACK URG)"),
            };
        return f;
    }
}
