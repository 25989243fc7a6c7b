using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

public class AddressTests
{
    [Theory]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("10.0.2.15", 0x0A00020Fu)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    public void Parses_dotted_quads(string text, uint value)
    {
        Assert.Equal(value, IPv4.Parse(text).Value);
        Assert.Equal(text, IPv4.Parse(text).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.2")]
    [InlineData("10.0.2.256")]
    [InlineData("10.0.2.15.1")]
    [InlineData("10..2.15")]
    [InlineData("1.2.3.4 ")]
    [InlineData("a.b.c.d")]
    [InlineData("1.2.3.0004")]
    public void Refuses_anything_else(string text) => Assert.False(IPv4.TryParse(text, out _));

    [Fact]
    public void Prefix_masks_its_network_and_contains_by_mask()
    {
        var p = Prefix.Parse("10.0.2.15/24");
        Assert.Equal("10.0.2.0/24", p.ToString());
        Assert.True(p.Contains(IPv4.Parse("10.0.2.200")));
        Assert.False(p.Contains(IPv4.Parse("10.0.3.1")));
        Assert.True(Prefix.Default.Contains(IPv4.Parse("198.51.100.1")));
        Assert.Equal(32, Prefix.Parse("192.0.2.53").Length);
        Assert.False(Prefix.TryParse("10.0.0.0/33", out _));
        Assert.False(Prefix.TryParse("10.0.0.0/", out _));
    }

    [Fact]
    public void Icmp_echo_request_inverts_to_an_echo_reply_with_the_same_id()
    {
        var t = FiveTuple.Icmp(IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), 8, 0, 4660);
        var r = t.Invert();
        Assert.Equal((byte)0, r.IcmpType);
        Assert.Equal((ushort)4660, r.IcmpId);
        Assert.Equal("src=192.0.2.53 dst=172.18.0.2 type=0 code=0 id=4660", r.ToString());
    }

    [Fact]
    public void Tcp_tuple_inverts_addresses_and_ports()
    {
        var t = new FiveTuple(Protocol.Tcp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.80"), 38001, 80);
        Assert.Equal("src=192.0.2.80 dst=172.18.0.2 sport=80 dport=38001", t.Invert().ToString());
    }
}
