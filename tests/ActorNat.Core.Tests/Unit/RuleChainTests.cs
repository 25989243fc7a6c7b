using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Rules;
using ActorNat.Core.Routing;

namespace ActorNat.Core.Tests.Unit;

/// <summary>User chains, `-j`/`-g`, `-m multiport` and `-m comment` in the nat table, as iptables (nf_tables) takes them.</summary>
public class RuleChainTests
{
    private readonly NatEngine _nat = new(new ManualClock(1_000_000), new SeededRandom(1));

    public RuleChainTests()
    {
        foreach (var line in new[]
                 {
                     "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2",
                     "iptables -t nat -N WEB", "iptables -t nat -N DNS",
                     "iptables -t nat -A WEB -s 172.18.0.3 -j RETURN",
                     "iptables -t nat -A WEB -p tcp -j MASQUERADE --to-ports 40000-40099",
                     "iptables -t nat -A DNS -s 172.18.0.4 -j RETURN",
                     "iptables -t nat -A DNS -p udp -j SNAT --to-source 10.0.2.15:50000-50099",
                     "iptables -t nat -A POSTROUTING -p tcp -m multiport --dports 80,443 -m comment --comment \"web traffic\" -j WEB",
                     "iptables -t nat -A POSTROUTING -p udp -m multiport --dports 53,5353 -g DNS",
                     "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
                 })
            _nat.Apply(line);
    }

    [Theory]
    [InlineData("tcp", "172.18.0.2", 443, "nat 40000-40099")]   // jumped to WEB, MASQUERADE there
    [InlineData("tcp", "172.18.0.3", 443, "nat kept")]          // RETURN from WEB: back to POSTROUTING's next rules
    [InlineData("tcp", "172.18.0.2", 22, "nat kept")]           // multiport does not match: the last rule
    [InlineData("udp", "172.18.0.2", 53, "nat 50000-50099")]    // goto DNS, SNAT there
    [InlineData("udp", "172.18.0.4", 53, "no nat")]             // RETURN from a goto chain: past POSTROUTING, its policy
    [InlineData("udp", "172.18.0.4", 54, "nat kept")]
    public void Chains_decide_as_netfilter_walks_them(string proto, string src, int dport, string expected)
    {
        var t = new FiveTuple(proto == "tcp" ? Protocol.Tcp : Protocol.Udp, IPv4.Parse(src), IPv4.Parse("192.0.2.80"), 41000, (ushort)dport);
        var d = NatPolicy.Decide(_nat.Topology, _nat.Rules, t);
        var got = d.Kind != DecisionKind.Nat ? "no nat" : d.Range.Ports is { } p ? $"nat {p}" : "nat kept";
        Assert.Equal(expected, got);
    }

    [Fact]
    public void Iptables_S_lists_chains_sorted_then_every_chain_s_rules()
    {
        Assert.Equal(
        [
            "-P POSTROUTING ACCEPT", "-N DNS", "-N WEB",
            "-A POSTROUTING -p tcp -m multiport --dports 80,443 -m comment --comment \"web traffic\" -j WEB",
            "-A POSTROUTING -p udp -m multiport --dports 53,5353 -g DNS",
            "-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
            "-A DNS -s 172.18.0.4/32 -j RETURN",
            "-A DNS -p udp -j SNAT --to-source 10.0.2.15:50000-50099",
            "-A WEB -s 172.18.0.3/32 -j RETURN",
            "-A WEB -p tcp -j MASQUERADE --to-ports 40000-40099",
        ], _nat.Rules.Listing());
    }

    [Theory]
    [InlineData("iptables -t nat -N WEB", "Chain already exists.")]
    [InlineData("iptables -t nat -X WEB", "CHAIN_DEL failed (Device or resource busy): chain WEB")]
    [InlineData("iptables -t nat -X", "CHAIN_DEL failed (Device or resource busy): chain DNS")]
    [InlineData("iptables -t nat -A DNS -j WEB", null)]
    public void Chain_commands_fail_as_iptables_does(string line, string? error)
    {
        if (error is null)
        {
            _nat.Apply(line);
            Assert.Contains("-A DNS -j WEB", _nat.Rules.Listing());
            return;
        }
        var e = Assert.Throws<InvalidOperationException>(() => _nat.Apply(line));
        Assert.Equal(error, e.Message);
    }

    [Theory]
    [InlineData("iptables -t nat -A NOPE -j MASQUERADE")]
    [InlineData("iptables -t nat -A POSTROUTING -j NOPE")]
    public void A_chain_that_does_not_exist_is_named(string line)
    {
        var e = Assert.Throws<ParseException>(() => _nat.Apply(line));
        Assert.Equal(("Chain 'NOPE' does not exist", "NOPE"), (e.Message, e.Token));
    }

    [Fact]
    public void A_jump_that_closes_a_loop_is_refused_and_an_emptied_unreferenced_chain_goes()
    {
        _nat.Apply("iptables -t nat -A WEB -j DNS");
        var e = Assert.Throws<InvalidOperationException>(() => _nat.Apply("iptables -t nat -A DNS -j WEB"));
        Assert.Contains("Too many links", e.Message);
        _nat.Apply("iptables -t nat -N SPARE");
        _nat.Apply("iptables -t nat -A SPARE -j ACCEPT");
        _nat.Apply("iptables -t nat -F SPARE");
        _nat.Apply("iptables -t nat -X SPARE");
        Assert.DoesNotContain("-N SPARE", _nat.Rules.Listing());
        _nat.Apply("iptables -t nat -D POSTROUTING -p udp -m multiport --dports 53,5353 -g DNS");
        Assert.DoesNotContain(_nat.Rules.Listing(), l => l.Contains("-g DNS"));
    }

    [Theory]
    [InlineData("iptables -t nat -A POSTROUTING -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j ACCEPT", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16")]
    [InlineData("iptables -t nat -A POSTROUTING -m multiport --dports 1 -j ACCEPT", "multiport")]
    [InlineData("iptables -t nat -A POSTROUTING -p tcp --dports 1 -j ACCEPT", "--dports")]
    [InlineData("iptables -t nat -A POSTROUTING --comment x -j ACCEPT", "--comment")]
    [InlineData("iptables -t nat -N 0123456789012345678901234567890", "0123456789012345678901234567890")]
    [InlineData("iptables -t nat -N RETURN", "RETURN")]
    [InlineData("iptables -t nat -A POSTROUTING -g ACCEPT", "ACCEPT")]
    [InlineData("iptables -t nat -A POSTROUTING -j DROP", "DROP")]
    [InlineData("iptables -t nat -A PREROUTING -j ACCEPT", "PREROUTING")]
    public void Bad_lines_name_the_wrong_token(string line, string token)
    {
        var e = Assert.Throws<ParseException>(() => IptablesParser.Parse(line));
        Assert.Equal(token, e.Token);
    }

    [Theory]
    [InlineData("-p icmp --icmp-type echo-request", "-p icmp -m icmp --icmp-type 8", 8, 0, true)]
    [InlineData("-p icmp -m icmp --icmp-type port-unreachable", "-p icmp -m icmp --icmp-type 3/3", 3, 1, false)]
    [InlineData("-p icmp ! --icmp-type 13/0", "-p icmp -m icmp ! --icmp-type 13/0", 8, 0, true)]
    [InlineData("-p icmp --icmp-type any", "-p icmp -m icmp --icmp-type any", 17, 0, true)]
    public void Icmp_types_read_print_and_match_as_xt_icmp(string match, string listed, int type, int code, bool matches)
    {
        var rule = IptablesParser.Parse($"iptables -t nat -A POSTROUTING {match} -j ACCEPT").Rule!;
        Assert.Equal(listed + " -j ACCEPT", rule.Spec());
        var t = FiveTuple.Icmp(IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), (byte)type, (byte)code, 7);
        Assert.Equal(matches, rule.Matches(t, "eth0"));
    }

    [Theory]
    [InlineData("iptables -t nat -A POSTROUTING --icmp-type 8 -j ACCEPT", "--icmp-type")]
    [InlineData("iptables -t nat -A POSTROUTING -p icmp --icmp-type bogus -j ACCEPT", "bogus")]
    [InlineData("iptables -t nat -A POSTROUTING -p icmp --icmp-type 300 -j ACCEPT", "300")]
    public void Bad_icmp_types_name_the_token(string line, string token) =>
        Assert.Equal(token, Assert.Throws<ParseException>(() => IptablesParser.Parse(line)).Token);

    [Fact]
    public void A_rule_without_a_target_matches_and_goes_on()
    {
        var cmd = IptablesParser.Parse("iptables -t nat -I POSTROUTING -s 172.18.0.2");
        Assert.Equal(RuleTarget.None, cmd.Rule!.Target);
        Assert.Equal("-s 172.18.0.2/32", cmd.Rule.Spec());
        _nat.Apply(cmd);
        var d = NatPolicy.Decide(_nat.Topology, _nat.Rules, new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.80"), 41000, 9));
        Assert.Equal(DecisionKind.Nat, d.Kind);
    }
}

/// <summary>Routes that forward nowhere: blackhole, unreachable, prohibit (iproute2 syntax and listing; the lookup drops).</summary>
public class RouteTypeTests
{
    [Fact]
    public void A_route_to_nowhere_wins_by_prefix_and_drops_the_connection()
    {
        var nat = new NatEngine(new ManualClock(1_000_000), new SeededRandom(1));
        foreach (var line in new[]
                 {
                     "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2",
                     "ip route add blackhole 192.0.2.80/32", "ip route add unreachable 198.51.100.0/24 metric 10",
                     "ip route add prohibit 192.0.2.128/25", "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
                 })
            nat.Apply(line);
        var listed = RouteListing.Lines(nat.Topology).ToList();
        Assert.Contains("blackhole 192.0.2.80", listed);
        Assert.Contains("unreachable 198.51.100.0/24 metric 10", listed);
        Assert.Contains("prohibit 192.0.2.128/25", listed);
        Assert.Null(nat.Topology.Lookup(IPv4.Parse("192.0.2.200")));
        Assert.NotNull(nat.Topology.Lookup(IPv4.Parse("192.0.2.53")));
        var v = nat.Process(new Packet(new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.80"), 4000, 53)));
        Assert.Equal((VerdictKind.Drop, DropReason.NoRoute), (v.Kind, v.Reason));
        Assert.Empty(nat.Entries());
        nat.Apply("ip route del blackhole 192.0.2.80/32");
        Assert.NotNull(nat.Topology.Lookup(IPv4.Parse("192.0.2.80")));
    }

    [Fact]
    public void A_route_to_nowhere_takes_no_gateway() =>
        Assert.Equal("via", Assert.Throws<ParseException>(() => IpCommandParser.Parse("ip route add blackhole 10.8.0.0/16 via 10.0.2.2")).Token);
}
