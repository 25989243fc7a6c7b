using ActorNat.Core.Net;

namespace ActorNat.Core.Routing;

public abstract record IpCommand;

/// <summary>`ip addr add|del A.B.C.D/N dev IF`.</summary>
public sealed record AddressCommand(bool Add, IPv4 Address, int PrefixLength, string Device) : IpCommand;

/// <summary>`ip route add|del|replace PREFIX|default [via GW] [dev IF] [metric N] [src IP] [onlink]`.</summary>
public sealed record RouteCommand(string Verb, Prefix Destination, IPv4? Gateway, string? Device, int? Metric, IPv4? Source, bool OnLink, RouteType Type = RouteType.Unicast) : IpCommand;

/// <summary>`ip link set [dev] IF up|down`.</summary>
public sealed record LinkCommand(string Device, bool Up) : IpCommand;
