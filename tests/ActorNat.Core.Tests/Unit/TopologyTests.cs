using ActorNat.Core.Net;
using ActorNat.Core.Routing;

namespace ActorNat.Core.Tests.Unit;

public class TopologyTests
{
    private static IPv4 Ip(string s) => IPv4.Parse(s);

    /// <summary>The article's router: docker0 172.18.0.1/16; eth0 10.0.2.15/24 then 203.0.113.56/24.</summary>
    private static Topology Article()
    {
        var t = new Topology();
        t.AddAddress("docker0", Ip("172.18.0.1"), 16);
        t.AddAddress("eth0", Ip("10.0.2.15"), 24);
        t.AddAddress("eth0", Ip("203.0.113.56"), 24);
        t.AddRoute(Prefix.Default, Ip("10.0.2.2"), null, 0, null, false);
        t.AddRoute(Prefix.Parse("198.51.100.1/32"), Ip("203.0.113.4"), "eth0", 0, null, false);
        return t;
    }

    [Fact]
    public void An_address_in_a_subnet_the_interface_already_has_is_secondary_and_listed_last()
    {
        var nic = new NetInterface("eth0");
        nic.Add(Ip("10.0.2.15"), 24);
        nic.Add(Ip("10.0.2.16"), 24);
        nic.Add(Ip("203.0.113.56"), 24);
        Assert.Equal(["10.0.2.15/24", "203.0.113.56/24", "10.0.2.16/24"], nic.Addresses.Select(a => a.ToString()));
        Assert.True(nic.Addresses[2].Secondary);
        // A different prefix length is a primary of its own (devinet.c compares masks too).
        Assert.False(nic.Add(Ip("10.0.2.17"), 25).Secondary);
    }

    [Fact]
    public void Deleting_a_primary_takes_its_secondaries_unless_they_are_promoted()
    {
        var nic = new NetInterface("eth0");
        nic.Add(Ip("10.9.0.1"), 24);
        nic.Add(Ip("10.9.0.2"), 24);
        nic.Add(Ip("10.8.0.1"), 24);
        var gone = nic.Remove(Ip("10.9.0.1"), 24, promoteSecondaries: false);
        Assert.Equal(2, gone.Count);
        Assert.Equal(["10.8.0.1/24"], nic.Addresses.Select(a => a.ToString()));

        var promoted = new NetInterface("eth0");
        promoted.Add(Ip("10.0.2.15"), 24);
        promoted.Add(Ip("10.0.2.16"), 24);
        promoted.Remove(Ip("10.0.2.15"), 24, promoteSecondaries: true);
        Assert.False(Assert.Single(promoted.Addresses).Secondary);
    }

    [Fact]
    public void Longest_prefix_wins_then_the_lowest_metric()
    {
        var t = Article();
        t.AddRoute(Prefix.Parse("198.51.100.0/24"), Ip("10.0.2.3"), null, 10, null, false);
        t.AddRoute(Prefix.Parse("198.51.100.0/24"), Ip("10.0.2.4"), null, 5, null, false);
        Assert.Equal(Ip("203.0.113.4"), t.Lookup(Ip("198.51.100.1"))!.Value.NextHop);
        Assert.Equal(Ip("10.0.2.4"), t.Lookup(Ip("198.51.100.9"))!.Value.NextHop);
        Assert.Equal(Ip("10.0.2.2"), t.Lookup(Ip("192.0.2.53"))!.Value.NextHop);
        // On-link (connected) destination: the next hop is the destination itself.
        Assert.Equal(Ip("172.18.0.2"), t.Lookup(Ip("172.18.0.2"))!.Value.NextHop);
    }

    [Fact]
    public void Masquerade_source_is_the_first_primary_holding_the_next_hop_else_the_first_primary()
    {
        var t = Article();
        var eth0 = t.Interfaces.Single(i => i.Name == "eth0");
        Assert.Equal(Ip("203.0.113.56"), Topology.SelectSourceAddress(eth0, Ip("203.0.113.4")));
        Assert.Equal(Ip("10.0.2.15"), Topology.SelectSourceAddress(eth0, Ip("10.0.2.2")));
        Assert.Equal(Ip("10.0.2.15"), Topology.SelectSourceAddress(eth0, Ip("100.64.0.1")));
        t.AddAddress("eth0", Ip("203.0.113.57"), 24); // secondary: never chosen
        Assert.Equal(Ip("203.0.113.56"), Topology.SelectSourceAddress(eth0, Ip("203.0.113.57")));
    }

    [Fact]
    public void A_gateway_must_be_reachable_unless_onlink()
    {
        var t = Article();
        Assert.Throws<InvalidOperationException>(() => t.AddRoute(Prefix.Parse("198.51.100.66/32"), Ip("100.64.0.1"), "eth0", 0, null, false));
        var r = t.AddRoute(Prefix.Parse("198.51.100.66/32"), Ip("100.64.0.1"), "eth0", 0, null, true);
        Assert.Equal("198.51.100.66 via 100.64.0.1 dev eth0 onlink", r.ToString());
    }

    [Fact]
    public void A_downed_interface_carries_no_route()
    {
        var t = Article();
        t.SetLink("eth0", false);
        Assert.Null(t.Lookup(Ip("192.0.2.53")));
        Assert.NotNull(t.Lookup(Ip("172.18.0.9")));
    }

    [Fact]
    public void Route_listing_is_in_the_kernels_order()
    {
        Assert.Equal(
        [
            "default via 10.0.2.2 dev eth0",
            "10.0.2.0/24 dev eth0 proto kernel scope link src 10.0.2.15",
            "172.18.0.0/16 dev docker0 proto kernel scope link src 172.18.0.1",
            "198.51.100.1 via 203.0.113.4 dev eth0",
            "203.0.113.0/24 dev eth0 proto kernel scope link src 203.0.113.56",
        ], RouteListing.Lines(Article()));
    }
}
