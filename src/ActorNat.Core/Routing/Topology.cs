using ActorNat.Core.Net;

namespace ActorNat.Core.Routing;

/// <summary>The outcome of a route lookup: the out interface and the next hop.</summary>
public readonly record struct RouteResult(Route Route, NetInterface Interface, IPv4 NextHop);

/// <summary>
/// Interfaces, their addresses and the main routing table of the NAT box. Connected ("proto kernel") routes are derived
/// from the primary addresses of interfaces that are up, as the kernel adds them.
/// </summary>
public sealed class Topology
{
    private readonly Dictionary<string, NetInterface> _interfaces = new(StringComparer.Ordinal);
    private readonly List<NetInterface> _order = [];
    private readonly List<Route> _routes = [];

    /// <summary>net.ipv4.conf.all.promote_secondaries; 0 in a new network namespace.</summary>
    public bool PromoteSecondaries { get; set; }

    public IReadOnlyList<NetInterface> Interfaces => _order;
    public IReadOnlyList<Route> StaticRoutes => _routes;

    public NetInterface Interface(string name)
    {
        if (!_interfaces.TryGetValue(name, out var nic))
        {
            nic = new NetInterface(name);
            _interfaces.Add(name, nic);
            _order.Add(nic);
        }
        return nic;
    }

    public bool TryGetInterface(string name, out NetInterface nic) => _interfaces.TryGetValue(name, out nic!);

    public InterfaceAddress AddAddress(string device, IPv4 address, int prefixLength)
    {
        var added = Interface(device).Add(address, prefixLength);
        Changed();
        return added;
    }

    public IReadOnlyList<InterfaceAddress> RemoveAddress(string device, IPv4 address, int prefixLength)
    {
        if (!_interfaces.TryGetValue(device, out var nic)) throw new InvalidOperationException($"Cannot find device \"{device}\"");
        var gone = nic.Remove(address, prefixLength, PromoteSecondaries);
        // Routes whose gateway is no longer reachable go with the address, as the kernel flushes them.
        _routes.RemoveAll(r => r.Device == device && r.Gateway is { } gw && !r.OnLink && !IsConnected(nic, gw));
        Changed();
        return gone;
    }

    /// <summary>`ip link set dev X up|down`. Bringing up a device ActorNat does not know yet declares it.</summary>
    public void SetLink(string device, bool up)
    {
        var nic = _interfaces.TryGetValue(device, out var n) ? n
            : up ? Interface(device) : throw new InvalidOperationException($"Cannot find device \"{device}\"");
        nic.Up = up;
        if (!up) _routes.RemoveAll(r => r.Device == device);
        Changed();
    }

    /// <summary>Connected routes: one per primary subnet of every interface that is up.</summary>
    public IEnumerable<Route> ConnectedRoutes =>
        _order.Where(i => i.Up).SelectMany(i => i.Primaries.Select(a => new Route(a.Subnet, null, i.Name, 0, a.Address, false, true)))
              .DistinctBy(r => (r.Destination, r.Device));

    public IEnumerable<Route> AllRoutes => ConnectedRoutes.Concat(_routes);

    /// <summary>Adds a route; a gateway without a device (or with one) must be reachable on-link unless 'onlink' is given.</summary>
    public Route AddRoute(Prefix destination, IPv4? gateway, string? device, int metric, IPv4? source, bool onLink, RouteType type = RouteType.Unicast)
    {
        string dev;
        if (type != RouteType.Unicast) dev = ""; // a route that forwards nowhere has no device
        else if (gateway is { } gw && !onLink)
        {
            var via = ConnectedRoutes.Where(r => r.Destination.Contains(gw) && (device is null || r.Device == device))
                                     .OrderByDescending(r => r.Destination.Length).FirstOrDefault()
                      ?? throw new InvalidOperationException($"Nexthop has invalid gateway {gw}");
            dev = via.Device;
        }
        else
        {
            dev = device ?? throw new InvalidOperationException("a route without a gateway needs 'dev'");
            if (!_interfaces.ContainsKey(dev)) throw new InvalidOperationException($"Cannot find device \"{dev}\"");
        }
        if (_routes.Any(r => r.Destination == destination && r.Metric == metric))
            throw new InvalidOperationException($"route {destination} metric {metric} exists (RTNETLINK answers: File exists)");
        var route = new Route(destination, gateway, dev, metric, source, onLink, false, type);
        _routes.Add(route);
        Changed();
        return route;
    }

    public Route RemoveRoute(Prefix destination, IPv4? gateway, string? device, int? metric)
    {
        var route = _routes.FirstOrDefault(r => r.Destination == destination
                                                && (gateway is null || r.Gateway == gateway)
                                                && (device is null || r.Device == device)
                                                && (metric is null || r.Metric == metric))
                    ?? throw new InvalidOperationException($"no such route {destination} (RTNETLINK answers: No such process)");
        _routes.Remove(route);
        Changed();
        return route;
    }

    /// <summary>Longest prefix first, then the lowest metric, then the first added. Allocation-free after a change.</summary>
    public RouteResult? Lookup(IPv4 destination)
    {
        var table = _compiled ??= Compile();
        foreach (var (route, nic) in table)
            if (route.Destination.Contains(destination))
                return nic is null ? null : new RouteResult(route, nic, route.NextHop(destination)); // blackhole, unreachable, prohibit
        return null;
    }

    private (Route, NetInterface?)[]? _compiled;

    /// <summary>Routes of interfaces that are up, sorted so that the first containing route is the one the kernel picks.</summary>
    private (Route, NetInterface?)[] Compile() =>
        AllRoutes.Select((r, i) => (r, i))
                 .Where(x => x.r.Type != RouteType.Unicast || _interfaces.TryGetValue(x.r.Device, out var nic) && nic.Up)
                 .OrderByDescending(x => x.r.Destination.Length).ThenBy(x => x.r.Metric).ThenBy(x => x.i)
                 .Select(x => (x.r, x.r.Type == RouteType.Unicast ? _interfaces[x.r.Device] : null))
                 .ToArray();

    /// <summary>Call after any change of addresses, links or routes.</summary>
    private void Changed() => _compiled = null;

    /// <summary>
    /// The MASQUERADE source (devinet.c inet_select_addr): the first primary address of the interface whose subnet holds
    /// the next hop, else the first primary address; secondaries never. Null when the interface has no address.
    /// </summary>
    public static IPv4? SelectSourceAddress(NetInterface nic, IPv4 nextHop)
    {
        IPv4? first = null;
        var addresses = nic.Addresses;
        for (int i = 0; i < addresses.Count; i++) // indexed: no enumerator allocation on the new-flow path
        {
            var a = addresses[i];
            if (a.Secondary) continue;
            if (a.Subnet.Contains(nextHop)) return a.Address;
            first ??= a.Address;
        }
        return first;
    }

    /// <summary>True when the address is one of the box's own.</summary>
    public bool IsLocal(IPv4 address) => _order.Any(i => i.Addresses.Any(a => a.Address == address));

    private static bool IsConnected(NetInterface nic, IPv4 gw) => nic.Primaries.Any(a => a.Subnet.Contains(gw));
}
