namespace ActorNat.Core.Routing;

/// <summary>`ip -4 -o addr show` lines: an interface's primaries in order, then its secondaries.</summary>
public static class AddressListing
{
    public static IEnumerable<string> Lines(Topology topology) =>
        topology.Interfaces.SelectMany((nic, n) => nic.Addresses.Select(a =>
            $"{n + 2}: {nic.Name}    inet {a}{(a.Secondary ? " scope global secondary" : " scope global")} {nic.Name}{(nic.Up ? "" : " (down)")}"));
}

/// <summary>`ip -4 route show` lines, in the kernel's order (by destination address, then prefix length).</summary>
public static class RouteListing
{
    public static IEnumerable<string> Lines(Topology topology) =>
        topology.AllRoutes.OrderBy(r => r.Destination.Network.Value).ThenBy(r => r.Destination.Length).ThenBy(r => r.Metric)
                .Select(r => r.ToString());
}
