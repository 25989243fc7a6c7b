using System.Globalization;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>One route of <c>ip -4 route show</c>.</summary>
internal sealed class Route
{
    public required IpNet Net { get; init; }
    public string? Dev { get; set; }
    public string? Via { get; set; }
    public long Metric { get; set; }
    public required string Type { get; init; }
    public int Order { get; set; }
    public required string Text { get; init; }
}

/// <summary>The router's main routing table: longest prefix, then metric, then order (compare's RouteTable).</summary>
internal sealed class RouteTable
{
    private static readonly HashSet<string> RouteTypes =
        ["unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast", "multicast", "nat", "anycast"];
    private static readonly HashSet<string> KeyedWords =
        ["via", "dev", "metric", "src", "proto", "scope", "table", "tos", "realm", "realms", "mtu", "advmss", "weight",
         "expires", "pref", "preference", "nhid", "initcwnd", "initrwnd", "hoplimit"];

    public List<Route> Routes { get; set; } = [];

    /// <summary>Set by multipath (<c>nexthop</c>) routes, which are not modelled.</summary>
    public bool Uncertain { get; private set; }

    public void AddLine(string line, RouteTable? connected = null)
    {
        var toks = Shlex.Split(line);
        if (toks.Count == 0) return;
        if (toks[0] == "nexthop") { Uncertain = true; return; }
        var type = "unicast";
        if (RouteTypes.Contains(toks[0])) { type = toks[0]; toks.RemoveAt(0); }
        if (toks.Count == 0) return;
        var dst = toks[0];
        toks.RemoveAt(0);
        IpNet net;
        try { net = IpNet.Parse(dst == "default" ? "0.0.0.0/0" : dst); }
        catch (FormatException) { Uncertain = true; return; }
        var r = new Route { Net = net, Type = type, Order = Routes.Count, Text = line };
        for (int i = 0; i < toks.Count;)
        {
            var t = toks[i];
            if (KeyedWords.Contains(t))
            {
                var v = i + 1 < toks.Count ? toks[i + 1] : null;
                if (t == "via") r.Via = string.IsNullOrEmpty(v) ? null : LastWord(v);
                else if (t == "dev") r.Dev = v;
                else if (t == "metric" && long.TryParse(v?.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var m))
                    r.Metric = m;
                else if (t == "table" && v is not ("main" or "254")) return;    // not the main table
                i += 2;
                continue;
            }
            if (t == "nexthop") Uncertain = true;
            i++;
        }
        if (r.Dev is null && r.Via is not null && connected is not null) r.Dev = connected.Lookup(r.Via)?.Dev;
        Routes.Add(r);
    }

    private static string LastWord(string v)
    {
        var w = v.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return w.Length > 0 ? w[^1] : throw new IndexOutOfRangeException("via " + v);
    }

    public Route? Lookup(string? ip)
    {
        if (!IpAddr.TryParse(ip, out var a)) return null;
        Route? best = null;
        foreach (var r in Routes)
        {
            if (!r.Net.Contains(a)) continue;
            if (best is null || Better(r, best)) best = r;
        }
        return best;
    }

    private static bool Better(Route r, Route best)
    {
        if (r.Net.Prefix != best.Net.Prefix) return r.Net.Prefix > best.Net.Prefix;
        if (r.Metric != best.Metric) return r.Metric < best.Metric;
        return r.Order < best.Order;
    }

    /// <summary>The output device of a unicast route towards <paramref name="ip"/>, else null.</summary>
    public string? OutDev(string? ip)
    {
        var r = Lookup(ip);
        return r is null || r.Type != "unicast" ? null : r.Dev;
    }
}
