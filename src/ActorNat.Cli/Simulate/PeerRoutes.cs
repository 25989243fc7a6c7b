using ActorNat.Core.Net;

namespace ActorNat.Cli.Simulate;

/// <summary>
/// Where the namespaces other than the router can send: each one's connected subnets (its addresses with their
/// prefixes) and the destinations of its routes. A server answers a packet only if its namespace has a route back to
/// the packet's source: an untranslated client address, or an SNAT address nobody routes back, gets no answer, as in
/// the kernel (the server's send fails with ENETUNREACH).
/// </summary>
public sealed class PeerRoutes
{
    private readonly Dictionary<string, string> _owner = [];            // address -> namespace
    private readonly Dictionary<string, List<Prefix>> _reach = [];      // namespace -> what it can send to

    /// <summary>An address of a namespace (`10.0.2.2/24`; a bare address is a /32).</summary>
    public void AddAddress(string ns, string cidr)
    {
        var host = cidr.Split('/')[0];
        _owner.TryAdd(host, ns);
        if (Prefix.TryParse(cidr.Contains('/') ? cidr : cidr + "/32", out var p)) Reach(ns).Add(p);
    }

    /// <summary>A route of the namespace: `default via …`, `PREFIX via …`, `PREFIX dev …`; unreachable, prohibit and blackhole lead nowhere.</summary>
    public void AddRoute(string ns, string route)
    {
        var words = route.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0 || words[0] is "unreachable" or "prohibit" or "blackhole" or "throw") return;
        var dst = words[0] is "unicast" && words.Length > 1 ? words[1] : words[0];
        if (dst == "default") Reach(ns).Add(new Prefix(new IPv4(0), 0));
        else if (Prefix.TryParse(dst.Contains('/') ? dst : dst + "/32", out var p)) Reach(ns).Add(p);
    }

    /// <summary>Whether the namespace owning <paramref name="server"/> can send to <paramref name="to"/> (true for an address no namespace owns).</summary>
    public bool CanAnswer(IPv4 server, IPv4 to) =>
        !_owner.TryGetValue(server.ToString(), out var ns) || _reach[ns].Any(p => p.Contains(to));

    private List<Prefix> Reach(string ns) => _reach.TryGetValue(ns, out var l) ? l : _reach[ns] = [];
}
