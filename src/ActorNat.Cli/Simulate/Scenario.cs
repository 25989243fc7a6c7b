using System.Text.Json;
using ActorNat.Core;

namespace ActorNat.Cli.Simulate;

/// <summary>One flow of a scenario after count expansion (the oracle's `flows[i]`).</summary>
public sealed record ScenarioFlow(
    int Index, string Proto, string Src, int Sport, string Dst, int Dport, int IcmpId, string? Label, bool Reply,
    int Packets, double Interval, double ReplyTimeout, string Close, double ConnectTimeout, double Wait,
    int IcmpType = 8, int IcmpCode = 0, bool Listener = true)
{
    /// <summary>The scenario set the ICMP type or code: the output carries both (the oracle's `type`/`code`).</summary>
    public bool IcmpTypeGiven { get; init; }
}

/// <summary>A scenario step: a flow, or one of the actions sleep, dump, close and exec.</summary>
public abstract record ScenarioStep;
public sealed record FlowStep(ScenarioFlow Flow) : ScenarioStep;
public sealed record SleepStep(double Seconds) : ScenarioStep;
public sealed record DumpStep(string? Label) : ScenarioStep;
public sealed record CloseStep(string Flow, string How) : ScenarioStep;
public sealed record ExecStep(string Namespace, IReadOnlyList<string> Command) : ScenarioStep;

/// <summary>A link end in the router's namespace: an interface of the NAT box and its addresses, in order.</summary>
public sealed record RouterInterface(string Device, IReadOnlyList<string> Addresses);

/// <summary>
/// The kernel oracle's scenario format (../shared/oracle/README.md), read as it is. What ActorNat cannot simulate
/// is refused with an error that names it.
/// </summary>
public sealed class Scenario
{
    public required string Name { get; init; }
    public required string Router { get; init; }
    public required IReadOnlyList<RouterInterface> Interfaces { get; init; }
    public required IReadOnlyList<string> Routes { get; init; }
    public required IReadOnlyList<string> Iptables { get; init; }
    public required IReadOnlyDictionary<string, string> Sysctl { get; init; }
    /// <summary>Every address that some namespace other than the router owns: those answer (a server, a client).</summary>
    public required IReadOnlySet<string> PeerAddresses { get; init; }
    /// <summary>The other namespaces' link addresses with their prefixes: a hop answers from the one on the NAT address's subnet.</summary>
    public IReadOnlyList<string> PeerLinkAddresses { get; init; } = [];
    /// <summary>
    /// Destinations another namespace has an `unreachable` or `prohibit` route to: its kernel answers a packet for them
    /// with an ICMP destination unreachable (code 1 host unreachable, or 13 administratively prohibited) from its own
    /// address, a hop on the path. (A `blackhole` route answers nothing, as no route at all.)
    /// </summary>
    public IReadOnlyList<(ActorNat.Core.Net.Prefix Prefix, byte Code)> UnreachableRoutes { get; init; } = [];
    /// <summary>The other namespaces' connected subnets and routes: whether a server can answer a packet's source.</summary>
    public PeerRoutes PeerRoutes { get; init; } = new();
    public required IReadOnlyList<ScenarioStep> Steps { get; init; }

    public IEnumerable<ScenarioFlow> Flows => Steps.OfType<FlowStep>().Select(s => s.Flow);

    public static Scenario Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        return Parse(doc.RootElement, Path.GetFileNameWithoutExtension(path));
    }

    public static Scenario Parse(JsonElement root, string fallbackName)
    {
        string name = Str(root, "name") ?? fallbackName;
        string router = Str(root, "router") ?? "router";
        var namespaces = root.TryGetProperty("namespaces", out var nsEl) ? nsEl : default;
        var routes = new List<string>();
        var iptables = new List<string>();
        var sysctl = new Dictionary<string, string>();
        var peers = new HashSet<string>();
        var interfaces = new List<RouterInterface>();
        var linkAddrs = new List<string>();
        var unreachable = new List<(ActorNat.Core.Net.Prefix, byte)>();
        var peerRoutes = new PeerRoutes();

        if (namespaces.ValueKind == JsonValueKind.Object)
        {
            foreach (var ns in namespaces.EnumerateObject())
            {
                bool isRouter = ns.Name == router;
                foreach (var setting in ns.Value.EnumerateObject())
                {
                    switch (setting.Name)
                    {
                        case "routes":
                            if (isRouter) routes.AddRange(setting.Value.EnumerateArray().Select(r => r.GetString()!));
                            else
                                foreach (var r in setting.Value.EnumerateArray().Select(r => { peerRoutes.AddRoute(ns.Name, r.GetString()!); return r.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries); }))
                                    if (r.Length >= 2 && r[0] is "unreachable" or "prohibit")
                                        unreachable.Add((ActorNat.Core.Net.Prefix.TryParse(r[1], out var pfx) ? pfx
                                            : throw new ParseException($"invalid prefix \"{r[1]}\" in namespaces.{ns.Name}.routes", r[1]), r[0] == "prohibit" ? (byte)13 : (byte)1));
                            break;
                        case "iptables":
                            if (isRouter) iptables.AddRange(setting.Value.EnumerateArray().Select(r => r.GetString()!));
                            else if (setting.Value.GetArrayLength() > 0)
                                throw Unsupported($"namespaces.{ns.Name}.iptables (rules outside the router namespace)");
                            break;
                        case "sysctl":
                            if (isRouter)
                                foreach (var kv in setting.Value.EnumerateObject())
                                    sysctl[kv.Name] = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : kv.Value.GetRawText();
                            break;
                        case "forward":
                            if (isRouter && setting.Value.ValueKind == JsonValueKind.False)
                                throw Unsupported($"namespaces.{ns.Name}.forward = false (a router that does not forward)");
                            break;
                        case "local_addrs":
                            if (isRouter)
                            {
                                // Addresses on the router's lo: its own (delivered locally; an SNAT target), never MASQUERADE's.
                                var los = setting.Value.EnumerateArray().Select(a => a.GetString()!).Select(a => a.Contains('/') ? a : a + "/32").ToList();
                                interfaces.Add(new RouterInterface("lo", los));
                                break;
                            }
                            foreach (var a in setting.Value.EnumerateArray())
                            {
                                peers.Add(HostOf(a.GetString()!));
                                peerRoutes.AddAddress(ns.Name, a.GetString()!);
                            }
                            break;
                        case "dummies":
                            foreach (var d in setting.Value.EnumerateArray())
                            {
                                var addrs = d.GetProperty("addrs").EnumerateArray().Select(x => x.GetString()!).ToList();
                                if (isRouter) interfaces.Add(new RouterInterface(d.GetProperty("dev").GetString()!, addrs));
                                else foreach (var a in addrs) { peers.Add(HostOf(a)); peerRoutes.AddAddress(ns.Name, a); }
                            }
                            break;
                        case "nft":
                            if (isRouter) throw Unsupported($"namespaces.{ns.Name}.nft (raw nft scripts)");
                            break;
                        default:
                            throw Unsupported($"namespaces.{ns.Name}.{setting.Name}");
                    }
                }
            }
        }

        if (root.TryGetProperty("links", out var links))
        {
            foreach (var link in links.EnumerateArray())
            {
                foreach (var side in new[] { "a", "b" })
                {
                    var end = link.GetProperty(side);
                    var ns = end.GetProperty("ns").GetString()!;
                    var addrs = end.TryGetProperty("addrs", out var ad) ? ad.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
                    if (ns == router) interfaces.Add(new RouterInterface(end.GetProperty("dev").GetString()!, addrs));
                    else foreach (var a in addrs) { peers.Add(HostOf(a)); linkAddrs.Add(a); peerRoutes.AddAddress(ns, a); }
                }
            }
        }

        var steps = new List<ScenarioStep>();
        int index = 0;
        if (root.TryGetProperty("flows", out var flows))
        {
            foreach (var f in flows.EnumerateArray())
            {
                if (f.TryGetProperty("action", out var action)) steps.Add(ParseAction(f, action.GetString()!));
                else foreach (var flow in ParseFlow(f, ref index)) steps.Add(new FlowStep(flow));
            }
        }

        foreach (var top in root.EnumerateObject())
            if (top.Name is not ("name" or "description" or "iptables_backend" or "router" or "settle" or "namespaces" or "links" or "flows"))
                throw Unsupported(top.Name);

        return new Scenario
        {
            Name = name, Router = router, Interfaces = interfaces, Routes = routes, Iptables = iptables, Sysctl = sysctl,
            PeerAddresses = peers, Steps = steps, PeerLinkAddresses = linkAddrs, UnreachableRoutes = unreachable,
            PeerRoutes = peerRoutes,
        };
    }

    private static IEnumerable<ScenarioFlow> ParseFlow(JsonElement f, ref int index)
    {
        foreach (var p in f.EnumerateObject())
            if (p.Name is not ("proto" or "src" or "sport" or "dst" or "dport" or "id" or "label" or "reply" or "packets" or "interval"
                or "reply_timeout" or "close" or "connect_timeout" or "count" or "sport_step" or "wait" or "type" or "code" or "listener"))
                throw Unsupported($"flow field \"{p.Name}\"");
        var proto = Str(f, "proto") ?? throw new ParseException("a flow needs \"proto\"", "proto");
        if (proto is not ("tcp" or "udp" or "icmp")) throw Unsupported($"flow proto \"{proto}\"");
        bool reply = !f.TryGetProperty("reply", out var r) || r.GetBoolean();
        int count = Int(f, "count") ?? 1;
        int step = Int(f, "sport_step") ?? 1;
        var close = Str(f, "close") ?? "none";
        int icmpType = Int(f, "type") ?? 8, icmpCode = Int(f, "code") ?? 0;
        if (proto != "icmp" && (f.TryGetProperty("type", out _) || f.TryGetProperty("code", out _)))
            throw new ParseException("\"type\" and \"code\" are for ICMP flows", "type");
        if (icmpType is < 0 or > 255) throw new ParseException($"ICMP type {icmpType} out of range 0-255", "type");
        if (icmpCode is < 0 or > 255) throw new ParseException($"ICMP code {icmpCode} out of range 0-255", "code");
        bool listener = !f.TryGetProperty("listener", out var ls) || ls.GetBoolean();
        if (proto == "icmp" && !listener) throw new ParseException("\"listener\" is for UDP/TCP flows", "listener");
        bool typeGiven = f.TryGetProperty("type", out _) || f.TryGetProperty("code", out _);
        if (close is not ("none" or "fin" or "rst")) throw Unsupported($"flow close \"{close}\"");
        var list = new List<ScenarioFlow>();
        for (int k = 0; k < count; k++)
        {
            list.Add(new ScenarioFlow(
                index++, proto,
                Str(f, "src") ?? throw new ParseException("a flow needs \"src\"", "src"),
                proto == "icmp" ? 0 : (Int(f, "sport") ?? 0) + (Int(f, "sport") is > 0 ? k * step : 0),
                Str(f, "dst") ?? throw new ParseException("a flow needs \"dst\"", "dst"),
                proto == "icmp" ? 0 : Int(f, "dport") ?? throw new ParseException("a TCP/UDP flow needs \"dport\"", "dport"),
                proto == "icmp" ? (Int(f, "id") ?? 0) + k * step : 0,
                Str(f, "label"), reply,
                Int(f, "packets") ?? 1,
                Dbl(f, "interval") ?? 0.05,
                Dbl(f, "reply_timeout") ?? (reply ? 0.5 : 0.05),
                close,
                Dbl(f, "connect_timeout") ?? 1.5,
                Dbl(f, "wait") ?? 0,
                icmpType, icmpCode, listener) { IcmpTypeGiven = typeGiven });
        }
        return list;
    }

    private static ScenarioStep ParseAction(JsonElement f, string action) => action switch
    {
        "sleep" => new SleepStep(Dbl(f, "seconds") ?? throw new ParseException("sleep needs \"seconds\"", "sleep")),
        "dump" => new DumpStep(Str(f, "label")),
        "close" => new CloseStep(
            f.TryGetProperty("flow", out var fl) ? (fl.ValueKind == JsonValueKind.Number ? fl.GetInt32().ToString() : fl.GetString()!) : throw new ParseException("close needs \"flow\"", "close"),
            Str(f, "how") ?? "fin"),
        "exec" => new ExecStep(Str(f, "ns") ?? "router", f.GetProperty("cmd").EnumerateArray().Select(c => c.GetString()!).ToList()),
        _ => throw Unsupported($"action \"{action}\""),
    };

    private static string HostOf(string cidr) => cidr.Split('/')[0];
    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    private static int? Int(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
    private static double? Dbl(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static ParseException Unsupported(string what) =>
        new($"scenario content not supported by the simulation: {what}", what);
}
