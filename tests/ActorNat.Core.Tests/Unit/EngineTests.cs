using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using static ActorNat.Core.Tests.Unit.Tuples;

namespace ActorNat.Core.Tests.Unit;

public class EngineTests
{
    private readonly ManualClock _clock = new(1_000_000);
    private readonly NatEngine _nat;

    public EngineTests()
    {
        _nat = new NatEngine(_clock, new SeededRandom(1));
        foreach (var line in new[]
                 {
                     "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip addr add 203.0.113.56/24 dev eth0",
                     "ip route add default via 10.0.2.2", "ip route add 198.51.100.1 via 203.0.113.4 dev eth0",
                     "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
                     "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
                 })
            _nat.Apply(line);
    }

    [Fact]
    public void The_articles_three_flows()
    {
        var dns = _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        Assert.Equal((VerdictKind.Translate, "10.0.2.15", (ushort)38000), (dns.Kind, dns.Rewritten.Src.ToString(), dns.Rewritten.SPort));
        var http = _nat.Process(new Packet(Tcp("172.18.0.2", 38001, "192.0.2.80", 80), TcpFlags.Syn, 1));
        Assert.Equal("10.0.2.15", http.Rewritten.Src.ToString());
        Assert.InRange(http.Rewritten.SPort, (ushort)55666, (ushort)55680);
        var far = _nat.Process(new Packet(Tcp("172.18.0.2", 38002, "198.51.100.1", 80), TcpFlags.Syn, 1));
        Assert.Equal("203.0.113.56", far.Rewritten.Src.ToString());
    }

    [Fact]
    public void A_reply_is_translated_back_to_the_client()
    {
        var out1 = _nat.Process(new Packet(Tcp("172.18.0.2", 38001, "192.0.2.80", 80), TcpFlags.Syn, 1));
        var back = _nat.Process(new Packet(out1.Rewritten.Invert(), TcpFlags.Syn | TcpFlags.Ack, 7));
        Assert.Equal((Direction.Reply, out1.ConntrackId, false), (back.Direction, back.ConntrackId, back.Created));
        Assert.Equal(Tcp("192.0.2.80", 80, "172.18.0.2", 38001), back.Rewritten);
    }

    [Fact]
    public void After_the_first_packet_no_rule_is_evaluated()
    {
        var first = _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        _nat.Apply("iptables -t nat -F");
        var second = _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        Assert.Equal((first.ConntrackId, first.Rewritten, VerdictKind.Translate), (second.ConntrackId, second.Rewritten, second.Kind));
        // A new connection sees the flushed chain: tracked, not translated.
        var fresh = _nat.Process(new Packet(Udp("172.18.0.2", 38009, "192.0.2.53", 53)));
        Assert.Equal(VerdictKind.NoNat, fresh.Kind);
    }

    [Fact]
    public void Expiry_frees_the_reply_tuple()
    {
        _nat.Apply("iptables -t nat -I POSTROUTING 1 -p udp -j MASQUERADE --to-ports 50000-50000");
        Assert.NotEqual(VerdictKind.Drop, _nat.Process(new Packet(Udp("172.18.0.2", 1, "192.0.2.53", 53))).Kind);
        var clash = _nat.Process(new Packet(Udp("172.18.0.3", 1, "192.0.2.53", 53)));
        Assert.Equal((VerdictKind.Drop, DropReason.PortsExhausted), (clash.Kind, clash.Reason));
        Assert.Equal((1, 1), (_nat.Stats.InsertFailed, _nat.Stats.Drop));
        _clock.AdvanceSeconds(30.001);
        var later = _nat.Process(new Packet(Udp("172.18.0.3", 1, "192.0.2.53", 53)));
        Assert.Equal((VerdictKind.Translate, (ushort)50000), (later.Kind, later.Rewritten.SPort));
        Assert.Single(_nat.Entries());
    }

    [Fact]
    public void The_sweep_destroys_expired_entries_without_lookups()
    {
        for (ushort p = 1; p <= 100; p++) _nat.Process(new Packet(Udp("172.18.0.2", (ushort)(2000 + p), "192.0.2.53", 53)));
        Assert.Equal(100, _nat.Table.Count);
        _clock.AdvanceSeconds(32);
        _nat.Table.NowMs = _clock.NowMs;
        Assert.Equal(100, _nat.Table.Sweep());
        Assert.Equal(0, _nat.Table.Count);
    }

    [Fact]
    public void Removing_an_address_destroys_exactly_the_entries_masqueraded_to_it()
    {
        _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        _nat.Process(new Packet(Tcp("172.18.0.2", 38002, "198.51.100.1", 80), TcpFlags.Syn, 1));
        _nat.Apply("ip addr del 10.0.2.15/24 dev eth0");
        var left = Assert.Single(_nat.Entries());
        Assert.Equal("203.0.113.56", left.NatIp.ToString());
    }

    [Fact]
    public void An_interface_going_down_destroys_the_entries_masqueraded_out_of_it()
    {
        _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        _nat.Apply("ip link set dev eth0 down");
        Assert.Empty(_nat.Entries());
        var v = _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        Assert.Equal((VerdictKind.Drop, DropReason.NoRoute), (v.Kind, v.Reason));
    }

    [Fact]
    public void An_invalid_packet_is_counted_and_creates_nothing()
    {
        var v = _nat.Process(new Packet(Tcp("172.18.0.2", 38001, "192.0.2.80", 80), TcpFlags.Fin | TcpFlags.Ack, 1));
        Assert.Equal((VerdictKind.Drop, DropReason.Invalid), (v.Kind, v.Reason));
        Assert.Equal(1, _nat.Stats.Invalid);
        Assert.Empty(_nat.Entries());
    }

    [Fact]
    public void A_full_table_drops_an_unassured_entry_first()
    {
        var small = new NatEngine(_clock, new SeededRandom(1), maxEntries: 2);
        small.Apply("ip addr add 10.0.2.15/24 dev eth0");
        small.Apply("ip route add default via 10.0.2.2");
        small.Process(new Packet(Udp("10.0.2.100", 1, "192.0.2.53", 53)));
        small.Process(new Packet(Udp("10.0.2.100", 2, "192.0.2.53", 53)));
        var third = small.Process(new Packet(Udp("10.0.2.100", 3, "192.0.2.53", 53)));
        Assert.NotEqual(VerdictKind.Drop, third.Kind);
        Assert.Equal((2, 1L), (small.Table.Count, small.Stats.EarlyDrop));
    }

    [Fact]
    public void Created_and_destroyed_events_carry_the_entry()
    {
        var created = new List<ulong>();
        var destroyed = new List<(ulong, DestroyReason)>();
        _nat.Table.Created += e => created.Add(e.Id);
        _nat.Table.Destroyed += (e, why) => destroyed.Add((e.Id, why));
        var v = _nat.Process(new Packet(Udp("172.18.0.2", 38000, "192.0.2.53", 53)));
        _clock.AdvanceSeconds(31);
        _nat.Process(new Packet(Udp("172.18.0.2", 1, "192.0.2.53", 53)));
        Assert.Equal(v.ConntrackId, created[0]);
        Assert.Contains((v.ConntrackId, DestroyReason.Expired), destroyed);
    }
}

public class SysctlTests
{
    [Fact]
    public void Sysctl_lines_set_timeouts_and_name_what_is_wrong()
    {
        var nat = new NatEngine(new ManualClock(), new SeededRandom(1));
        nat.Apply("sysctl -w net.netfilter.nf_conntrack_udp_timeout=10");
        Assert.Equal(10, nat.Timeouts.Udp);
        nat.Apply("sysctl -w net.ipv4.conf.all.promote_secondaries=1");
        Assert.True(nat.Topology.PromoteSecondaries);
        Assert.Equal("net.netfilter.nf_conntrack_bogus", Assert.Throws<ParseException>(() => nat.Apply("sysctl -w net.netfilter.nf_conntrack_bogus=1")).Token);
        Assert.Equal("x", Assert.Throws<ParseException>(() => nat.Apply("sysctl -w net.netfilter.nf_conntrack_udp_timeout=x")).Token);
    }
}
