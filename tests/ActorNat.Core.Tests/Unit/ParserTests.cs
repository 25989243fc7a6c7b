using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Routing;
using ActorNat.Core.Rules;

namespace ActorNat.Core.Tests.Unit;

public class ParserTests
{
    [Theory]
    [InlineData("iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
        "-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -p tcp -j MASQUERADE --to-ports 55666-55680")]
    [InlineData("-t nat -A POSTROUTING -s 172.18.0.0/16 -d 192.0.2.53 -p udp ! -o docker0 -j MASQUERADE --random",
        "-A POSTROUTING -s 172.18.0.0/16 -d 192.0.2.53/32 ! -o docker0 -p udp -j MASQUERADE --random")]
    [InlineData("-t nat -A POSTROUTING -s 172.18.0.0/16 -o eth0 -p tcp --dport 443 -j SNAT --to-source 203.0.113.74-203.0.113.77 --persistent",
        "-A POSTROUTING -s 172.18.0.0/16 -o eth0 -p tcp -m tcp --dport 443 -j SNAT --to-source 203.0.113.74-203.0.113.77 --persistent")]
    [InlineData("-t nat -A POSTROUTING -s 172.18.0.0/16 -o eth0 -p udp -j SNAT --to-source 203.0.113.60-203.0.113.63:40000-40009",
        "-A POSTROUTING -s 172.18.0.0/16 -o eth0 -p udp -j SNAT --to-source 203.0.113.60-203.0.113.63:40000-40009")]
    [InlineData("-t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 50000-50999 --random-fully",
        "-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -p tcp -j MASQUERADE --to-ports 50000-50999 --random-fully")]
    public void Iptables_rules_read_and_print_as_iptables_S(string line, string listed)
    {
        var cmd = IptablesParser.Parse(line);
        Assert.Equal(RuleAction.Append, cmd.Action);
        Assert.Equal(listed, cmd.Rule!.ToString());
    }

    [Theory]
    [InlineData("iptables -t filter -A FORWARD -j ACCEPT", "filter")]
    [InlineData("iptables -t nat -A PREROUTING -j MASQUERADE", "PREROUTING")]
    [InlineData("iptables -t nat -A POSTROUTING -j DNAT", "DNAT")]
    [InlineData("iptables -t nat -A POSTROUTING -s 300.1.1.0/24 -j MASQUERADE", "300.1.1.0/24")]
    [InlineData("iptables -t nat -A POSTROUTING -j MASQUERADE --to-ports 1000-2000", "--to-ports")]
    [InlineData("iptables -t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-x", "1000-x")]
    [InlineData("iptables -t nat -A POSTROUTING -i eth0 -j MASQUERADE", "-i")]
    [InlineData("iptables -t nat -A POSTROUTING -p gre -j MASQUERADE", "gre")]
    [InlineData("iptables -t nat -A POSTROUTING -j MASQUERADE --bogus", "--bogus")]
    [InlineData("iptables -t nat -A POSTROUTING -s", "-s")]
    [InlineData("iptables -t nat -A POSTROUTING -j SNAT --to-source 1.2.3", "1.2.3")]
    [InlineData("iptables -t nat -A POSTROUTING --dport 80 -j MASQUERADE", "--dport")]
    [InlineData("iptables -A POSTROUTING -j MASQUERADE", "iptables")]
    public void Iptables_errors_name_the_wrong_token(string line, string token)
    {
        var e = Assert.Throws<ParseException>(() => IptablesParser.Parse(line));
        Assert.Equal(token, e.Token);
    }

    [Fact]
    public void Iptables_delete_and_insert_by_number_and_by_spec()
    {
        var rules = new RuleSet();
        rules.Apply(IptablesParser.Parse("-t nat -A POSTROUTING -o eth0 -j MASQUERADE"));
        rules.Apply(IptablesParser.Parse("-t nat -I POSTROUTING 1 -d 10.0.0.0/8 -j RETURN"));
        Assert.Equal(RuleTarget.Return, rules.Rules[0].Target);
        rules.Apply(IptablesParser.Parse("-t nat -D POSTROUTING -o eth0 -j MASQUERADE"));
        Assert.Single(rules.Rules);
        rules.Apply(IptablesParser.Parse("-t nat -D POSTROUTING 1"));
        Assert.Empty(rules.Rules);
        Assert.Throws<InvalidOperationException>(() => rules.Apply(IptablesParser.Parse("-t nat -D POSTROUTING 1")));
    }

    [Fact]
    public void Ip_commands_read_as_iproute2_reads_them()
    {
        var a = Assert.IsType<AddressCommand>(IpCommandParser.Parse("ip addr add 10.0.2.15/24 dev eth0"));
        Assert.Equal((true, "10.0.2.15", 24, "eth0"), (a.Add, a.Address.ToString(), a.PrefixLength, a.Device));
        var d = Assert.IsType<AddressCommand>(IpCommandParser.Parse("ip a del 10.0.2.15/24 dev eth0"));
        Assert.False(d.Add);
        var r = Assert.IsType<RouteCommand>(IpCommandParser.Parse("ip route add 198.51.100.2 via 10.0.2.2 src 203.0.113.56 metric 5"));
        Assert.Equal(("198.51.100.2/32", "10.0.2.2", 5, "203.0.113.56"), (r.Destination.ToString(), r.Gateway.ToString(), r.Metric, r.Source.ToString()));
        var def = Assert.IsType<RouteCommand>(IpCommandParser.Parse("ip r add default via 10.0.2.2"));
        Assert.Equal(Prefix.Default, def.Destination);
        var onlink = Assert.IsType<RouteCommand>(IpCommandParser.Parse("ip route add 198.51.100.66 via 100.64.0.1 dev eth0 onlink"));
        Assert.True(onlink.OnLink);
        var link = Assert.IsType<LinkCommand>(IpCommandParser.Parse("ip link set dev eth0 down"));
        Assert.False(link.Up);
    }

    [Theory]
    [InlineData("ip addr add 10.0.2.300/24 dev eth0", "10.0.2.300/24")]
    [InlineData("ip addr add 10.0.2.3/24", "10.0.2.3/24")]
    [InlineData("ip addr flush dev eth0", "flush")]
    [InlineData("ip route add 10.0.0.1/8 via 10.0.2.2", "10.0.0.1/8")]
    [InlineData("ip route add default via 10.0.2.300", "10.0.2.300")]
    [InlineData("ip route add default via 10.0.2.2 metric x", "x")]
    [InlineData("ip rule add from all", "rule")]
    [InlineData("ip route add 10.0.0.0/8", "10.0.0.0/8")]
    public void Ip_errors_name_the_wrong_token(string line, string token)
    {
        var e = Assert.Throws<ParseException>(() => IpCommandParser.Parse(line));
        Assert.Equal(token, e.Token);
    }

    [Fact]
    public void Port_classes_are_the_kernels()
    {
        Assert.Equal(new PortRange(1, 511), PortRange.ClassOf(500));
        Assert.Equal(new PortRange(1, 511), PortRange.ClassOf(0));
        Assert.Equal(new PortRange(600, 1023), PortRange.ClassOf(512));
        Assert.Equal(new PortRange(600, 1023), PortRange.ClassOf(800));
        Assert.Equal(new PortRange(1024, 65535), PortRange.ClassOf(1024));
    }

    [Fact]
    public void Rule_matching_honours_negation_and_interface_wildcards()
    {
        var rule = IptablesParser.Parse("-t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker+ -p udp ! --dport 53 -j MASQUERADE").Rule!;
        var dns = new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), 40000, 53);
        var ntp = dns with { DPort = 123 };
        Assert.False(rule.Matches(dns, "eth0"));
        Assert.True(rule.Matches(ntp, "eth0"));
        Assert.False(rule.Matches(ntp, "docker1"));
        Assert.False(rule.Matches(ntp with { Src = IPv4.Parse("10.1.1.1") }, "eth0"));
    }
}
