using ActorNat.Core.Net;

namespace ActorNat.Core.Nat;

/// <summary>
/// What a matched rule allows for the source of a connection (the kernel's nf_nat_range2): an address range, an optional
/// port range (PROTO_SPECIFIED) and the random/persistent flags. MASQUERADE has one address: the one chosen for the
/// out interface.
/// </summary>
public readonly record struct NatRange(IPv4 MinIp, IPv4 MaxIp, PortRange? Ports, bool Random, bool Persistent)
{
    public bool ContainsIp(IPv4 ip) => ip.Value >= MinIp.Value && ip.Value <= MaxIp.Value;

    /// <summary>in_range(): the address, and the port when a port range was given.</summary>
    public bool Contains(IPv4 ip, ushort port) => ContainsIp(ip) && (Ports is not { } p || p.Contains(port));

}
