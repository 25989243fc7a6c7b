using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

/// <summary>The address choices the kernel made in golden/snat-to-source.json, reproduced by the hash.</summary>
public class SnatHashTests
{
    private static NatRange Range(string min, string max, bool persistent = false) =>
        new(IPv4.Parse(min), IPv4.Parse(max), null, false, persistent);

    [Theory]
    [InlineData("172.18.0.3", "192.0.2.53", "203.0.113.60")]
    [InlineData("172.18.0.4", "192.0.2.53", "203.0.113.62")]
    [InlineData("172.18.0.5", "192.0.2.53", "203.0.113.61")]
    [InlineData("172.18.0.2", "192.0.2.53", "203.0.113.60")]
    [InlineData("172.18.0.2", "192.0.2.54", "203.0.113.63")]
    public void Udp_range_60_to_63(string client, string server, string expected) =>
        Assert.Equal(expected, SnatHash.Pick(Range("203.0.113.60", "203.0.113.63"), IPv4.Parse(client), IPv4.Parse(server)).ToString());

    [Theory]
    [InlineData("172.18.0.3", "192.0.2.80", "203.0.113.71")]
    [InlineData("172.18.0.4", "192.0.2.80", "203.0.113.71")]
    public void Tcp_range_70_to_72(string client, string server, string expected) =>
        Assert.Equal(expected, SnatHash.Pick(Range("203.0.113.70", "203.0.113.72"), IPv4.Parse(client), IPv4.Parse(server)).ToString());

    [Theory]
    [InlineData("192.0.2.80")]
    [InlineData("192.0.2.53")]
    public void Persistent_ignores_the_server(string server) =>
        Assert.Equal("203.0.113.75", SnatHash.Pick(Range("203.0.113.74", "203.0.113.77", persistent: true), IPv4.Parse("172.18.0.2"), IPv4.Parse(server)).ToString());
}
