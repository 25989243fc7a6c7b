using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using static ActorNat.Core.Tests.Unit.Tuples;

namespace ActorNat.Core.Tests.Unit;

public class PortAllocatorTests
{
    private static readonly IPv4 Nat = IPv4.Parse("10.0.2.15");
    private static NatRange Masq(PortRange? ports = null, bool random = false) => new(Nat, Nat, ports, random, false);

    [Fact]
    public void Keeps_the_original_port_when_the_reply_tuple_is_free()
    {
        var table = new ConntrackTable();
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.2", 38000, "192.0.2.53", 53), Masq(), false, 0, new ScriptedRandom());
        Assert.Equal((AllocationKind.PortKept, "10.0.2.15", (ushort)38000), (a.Kind, a.Ip.ToString(), a.Port));
    }

    [Fact]
    public void A_collision_searches_the_class_of_the_port_from_a_random_start()
    {
        var table = new ConntrackTable();
        Hold(table, Udp("172.18.0.2", 500, "192.0.2.53", 53), "10.0.2.15", 500);
        // start = 1 + (100 % 511) = 101
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 500, "192.0.2.53", 53), Masq(), false, 0, new ScriptedRandom(100));
        Assert.Equal((AllocationKind.Searched, (ushort)101), (a.Kind, a.Port));
        // 800 searches 600-1023
        Hold(table, Udp("172.18.0.2", 800, "192.0.2.53", 53), "10.0.2.15", 800);
        var b = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 800, "192.0.2.53", 53), Masq(), false, 0, new ScriptedRandom(0));
        Assert.Equal((ushort)600, b.Port);
    }

    [Fact]
    public void One_nat_port_serves_many_destinations()
    {
        var table = new ConntrackTable();
        Hold(table, Udp("172.18.0.2", 40000, "192.0.2.53", 53), "10.0.2.15", 40000);
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 40000, "192.0.2.80", 53), Masq(), false, 0, new ScriptedRandom());
        Assert.Equal((AllocationKind.PortKept, (ushort)40000), (a.Kind, a.Port));
    }

    [Fact]
    public void A_live_mapping_of_the_same_client_port_is_reused_even_when_its_own_port_is_free()
    {
        var table = new ConntrackTable();
        Hold(table, Udp("172.18.0.3", 40000, "192.0.2.53", 53), "10.0.2.15", 61529);
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 40000, "192.0.2.80", 53), Masq(), false, 0, new ScriptedRandom());
        Assert.Equal((AllocationKind.Reused, (ushort)61529), (a.Kind, a.Port));
        // Behind another NAT address the old mapping is out of range: the port is kept afresh.
        var other = new NatRange(IPv4.Parse("203.0.113.56"), IPv4.Parse("203.0.113.56"), null, false, false);
        var b = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 40000, "198.51.100.1", 53), other, false, 0, new ScriptedRandom());
        Assert.Equal((AllocationKind.PortKept, (ushort)40000), (b.Kind, b.Port));
    }

    [Fact]
    public void Random_skips_reuse_and_keeping()
    {
        var table = new ConntrackTable();
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.2", 33000, "192.0.2.53", 53), Masq(random: true), false, 0, new ScriptedRandom(10));
        Assert.Equal((AllocationKind.Searched, (ushort)(1024 + 10)), (a.Kind, a.Port));
        var inRange = PortAllocator.Allocate(ref table, Tcp("172.18.0.2", 50500, "192.0.2.80", 80), Masq(new PortRange(50000, 50999), random: true), true, 1, new ScriptedRandom(321));
        Assert.Equal((ushort)50321, inRange.Port);
    }

    [Fact]
    public void A_small_range_is_searched_whole_and_exhaustion_is_reported()
    {
        var table = new ConntrackTable();
        var range = Masq(new PortRange(55666, 55680));
        var random = new SeededRandom(7);
        var ports = new HashSet<ushort>();
        for (ushort i = 0; i < 15; i++)
        {
            var t = Tcp("172.18.0.2", (ushort)(41000 + i), "192.0.2.80", 80);
            var a = PortAllocator.Allocate(ref table, t, range, true, 1, random);
            Assert.True(a.Succeeded);
            Assert.InRange(a.Port, (ushort)55666, (ushort)55680);
            Assert.True(ports.Add(a.Port));
            Hold(table, t, "10.0.2.15", a.Port);
        }
        var full = PortAllocator.Allocate(ref table, Tcp("172.18.0.2", 41015, "192.0.2.80", 80), range, true, 1, random);
        Assert.Equal(AllocationKind.Exhausted, full.Kind);
        Assert.Equal(15, full.Probes);
    }

    [Fact]
    public void A_large_exhausted_search_tries_128_then_halving_rounds()
    {
        var space = new AlwaysTaken();
        var a = PortAllocator.Allocate(ref space, Udp("172.18.0.2", 40000, "192.0.2.53", 53), Masq(), false, 0, new ScriptedRandom());
        Assert.Equal(AllocationKind.Exhausted, a.Kind);
        // the kept-port probe, then 128 + 64 + 32 + 16 + 8
        Assert.Equal(1 + 248, a.Probes);
    }

    [Fact]
    public void A_one_port_range_that_is_taken_drops()
    {
        var table = new ConntrackTable();
        Hold(table, Udp("172.18.0.2", 50000, "192.0.2.53", 53), "10.0.2.15", 50000);
        var a = PortAllocator.Allocate(ref table, Udp("172.18.0.3", 50000, "192.0.2.53", 53), Masq(new PortRange(50000, 50000)), false, 0, new ScriptedRandom());
        Assert.Equal(AllocationKind.Exhausted, a.Kind);
    }

    [Fact]
    public void A_syn_may_evict_a_time_wait_holder_in_the_last_32_tries()
    {
        var table = new ConntrackTable();
        var range = Masq(new PortRange(55666, 55680));
        for (ushort i = 0; i < 15; i++)
        {
            int e = Hold(table, Tcp("172.18.0.2", (ushort)(41000 + i), "192.0.2.80", 80), "10.0.2.15", (ushort)(55666 + i), TcpState.TimeWait);
            table[e].State.OrigSeqEnd = 1000;
        }
        var newer = PortAllocator.Allocate(ref table, Tcp("172.18.0.3", 42000, "192.0.2.80", 80), range, true, 2000, new ScriptedRandom(4));
        Assert.Equal((AllocationKind.Searched, (ushort)55670, 1), (newer.Kind, newer.Port, newer.Evictions));
        Assert.Equal(14, table.Count);
        Hold(table, Tcp("172.18.0.3", 42000, "192.0.2.80", 80), "10.0.2.15", newer.Port);
        // An older sequence number does not evict: the SYN is dropped.
        var older = PortAllocator.Allocate(ref table, Tcp("172.18.0.3", 42001, "192.0.2.80", 80), range, true, 500, new ScriptedRandom(4));
        Assert.Equal(AllocationKind.Exhausted, older.Kind);
    }

    [Fact]
    public void Icmp_ids_search_all_of_0_to_65535()
    {
        var table = new ConntrackTable();
        var first = FiveTuple.Icmp(IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), 8, 0, 4660);
        Hold(table, first, "10.0.2.15", 4660);
        var second = FiveTuple.Icmp(IPv4.Parse("172.18.0.3"), IPv4.Parse("192.0.2.53"), 8, 0, 4660);
        var a = PortAllocator.Allocate(ref table, second, Masq(), false, 0, new ScriptedRandom(3));
        Assert.Equal((AllocationKind.Searched, (ushort)3), (a.Kind, a.Port));
    }

    [Fact]
    public void A_client_already_inside_the_nat_range_keeps_its_tuple()
    {
        var table = new ConntrackTable();
        var a = PortAllocator.Allocate(ref table, Udp("10.0.2.15", 5000, "192.0.2.53", 53), Masq(), false, 0, new ScriptedRandom());
        Assert.Equal(AllocationKind.Identity, a.Kind);
    }

    private struct AlwaysTaken : ITupleSpace
    {
        public bool IsTaken(in FiveTuple tuple) => true;
        public bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd) => false;
        public bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in NatRange range, out IPv4 natIp, out ushort natPort)
        {
            natIp = default;
            natPort = 0;
            return false;
        }
    }
}
