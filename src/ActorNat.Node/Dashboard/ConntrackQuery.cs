using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Dashboard;

/// <summary>
/// The dashboard's conntrack search box: conntrack-tools' filter options (`-L -p tcp -s 172.18.0.2 --dport 80
/// --state ESTABLISHED -o id`) into the same wire filter the gRPC admin service takes (and validates, naming the field).
/// </summary>
public sealed record ConntrackQuery(Wire.ConntrackFilter Filter, bool WithId)
{
    public static ConntrackQuery Parse(string? text)
    {
        var filter = new Wire.ConntrackFilter();
        bool withId = false;
        var args = (text ?? "").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < args.Length; i++)
        {
            var opt = args[i];
            if (opt is "-L" or "--dump" or "conntrack") continue;
            if (i + 1 >= args.Length) throw new FormatException($"conntrack: option \"{opt}\" needs a value");
            var v = args[++i];
            switch (opt)
            {
                case "-p" or "--proto": filter.Protocol = Protocol(v); break;
                case "-s" or "--src" or "--orig-src": filter.SrcAddress = v; break;
                case "-d" or "--dst" or "--orig-dst": filter.DstAddress = v; break;
                case "--sport" or "--orig-port-src": filter.SrcPort = Number(opt, v); break;
                case "--dport" or "--orig-port-dst": filter.DstPort = Number(opt, v); break;
                case "--state": filter.State = v; break;
                case "--id": filter.Id = ulong.TryParse(v, out var id) ? id : throw new FormatException($"conntrack: --id \"{v}\" is not a number"); break;
                case "-o" or "--output":
                    if (v != "id") throw new FormatException($"conntrack: unsupported output format \"{v}\" (supported: id)");
                    withId = true;
                    break;
                default: throw new FormatException($"conntrack: unknown option \"{opt}\" (filters: -p, -s, -d, --sport, --dport, --state, --id, -o id)");
            }
        }
        return new ConntrackQuery(filter, withId);
    }

    private static Wire.IpProtocol Protocol(string v) => v.ToLowerInvariant() switch
    {
        "tcp" or "6" => Wire.IpProtocol.Tcp,
        "udp" or "17" => Wire.IpProtocol.Udp,
        "icmp" or "1" => Wire.IpProtocol.Icmp,
        _ => throw new FormatException($"conntrack: unknown protocol \"{v}\" (tcp, udp, icmp)"),
    };

    private static uint Number(string opt, string v) =>
        uint.TryParse(v, out var n) ? n : throw new FormatException($"conntrack: {opt} \"{v}\" is not a port number");
}
