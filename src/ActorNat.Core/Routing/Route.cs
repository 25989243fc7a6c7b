using System.Text;
using ActorNat.Core.Net;

namespace ActorNat.Core.Routing;

/// <summary>A route as `ip route` holds it. <see cref="Source"/> is kept for display; MASQUERADE ignores it.</summary>
public sealed record Route(Prefix Destination, IPv4? Gateway, string Device, int Metric, IPv4? Source, bool OnLink, bool Kernel, RouteType Type = RouteType.Unicast)
{
    /// <summary>The next hop for a destination: the gateway, or the destination itself on an on-link route.</summary>
    public IPv4 NextHop(IPv4 destination) => Gateway ?? destination;

    /// <summary>Rendered like `ip -4 route show`.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(Destination.Length == 0 ? "default" : Destination.Length == 32 ? Destination.Network.ToString() : Destination.ToString());
        if (Type != RouteType.Unicast)
        {
            sb.Insert(0, Type.ToString().ToLowerInvariant() + " "); // `blackhole 10.8.0.0/16`: no device, no gateway
            if (Metric != 0) sb.Append(" metric ").Append(Metric);
            return sb.ToString();
        }
        if (Gateway is { } gw) sb.Append(" via ").Append(gw);
        sb.Append(" dev ").Append(Device);
        if (Kernel) sb.Append(" proto kernel scope link");
        else if (Gateway is null) sb.Append(" scope link");
        if (Source is { } src) sb.Append(" src ").Append(src);
        if (Metric != 0) sb.Append(" metric ").Append(Metric);
        if (OnLink) sb.Append(" onlink");
        return sb.ToString();
    }
}

/// <summary>
/// `ip route` types: unicast forwards; blackhole drops silently; unreachable and prohibit drop and make the kernel
/// answer with an ICMP host unreachable or administratively prohibited. None of the last three forwards, so a
/// connection routed to one is never confirmed (no conntrack entry).
/// </summary>
public enum RouteType { Unicast, Blackhole, Unreachable, Prohibit }
