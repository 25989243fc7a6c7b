using ActorNat.Core.Net;

namespace ActorNat.Core.Routing;

/// <summary>An address configured on an interface (`ip addr add 10.0.2.15/24 dev eth0`).</summary>
public sealed record InterfaceAddress(IPv4 Address, int PrefixLength, bool Secondary)
{
    public Prefix Subnet => new(Address, PrefixLength);
    public override string ToString() => $"{Address}/{PrefixLength}";
}
