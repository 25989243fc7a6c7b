using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using static ActorNat.Core.Tests.Unit.Tuples;

namespace ActorNat.Core.Tests.Unit;

/// <summary>nf_conntrack_max as the kernel applies it: sysctl, early drop of unassured entries, then table-full.</summary>
public class ConntrackLimitTests
{
    private readonly ManualClock _clock = new(1_000_000);

    private NatEngine Engine(int max)
    {
        var nat = new NatEngine(_clock, new SeededRandom(1));
        nat.Apply("ip addr add 10.0.2.15/24 dev eth0");
        nat.Apply("ip route add default via 10.0.2.2");
        nat.Apply("iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE");
        nat.Apply($"sysctl -w net.netfilter.nf_conntrack_max={max}");
        return nat;
    }

    /// <summary>A TCP connection through its handshake and first ACK: assured.</summary>
    private static void Assured(NatEngine nat, ushort port)
    {
        var syn = nat.Process(new Packet(Tcp("10.0.2.100", port, "192.0.2.80", 80), TcpFlags.Syn, 1));
        nat.Process(new Packet(syn.Rewritten.Invert(), TcpFlags.Syn | TcpFlags.Ack, 100, 2));
        nat.Process(new Packet(Tcp("10.0.2.100", port, "192.0.2.80", 80), TcpFlags.Ack, 2, 101));
    }

    [Fact]
    public void The_sysctl_sets_the_limit_and_reads_back_as_the_tool_prints_it()
    {
        var nat = Engine(3);
        Assert.Equal(3, nat.Table.MaxEntries);
        Assert.Equal("net.netfilter.nf_conntrack_max = 3", nat.ReadSysctl("net/netfilter/nf_conntrack_max", 0));
        Assert.Equal("net.netfilter.nf_conntrack_count = 7", nat.ReadSysctl("net.netfilter.nf_conntrack_count", 7));
        Assert.Equal("net.netfilter.nf_conntrack_udp_timeout = 30", nat.ReadSysctl("net.netfilter.nf_conntrack_udp_timeout", 0));
        Assert.Null(nat.ReadSysctl("net.netfilter.nf_conntrack_bogus", 0));
        Assert.Contains("net.netfilter.nf_conntrack_max = 3", nat.SysctlListing(0));
        // As sysctl(8) refuses them: a negative or non-numeric limit, and writing the count.
        Assert.Contains("Invalid argument", Assert.Throws<ParseException>(() => nat.Apply("sysctl -w net.netfilter.nf_conntrack_max=-1")).Message);
        Assert.Contains("Invalid argument", Assert.Throws<ParseException>(() => nat.Apply("sysctl -w net.netfilter.nf_conntrack_max=99999999999")).Message);
        Assert.Contains("Invalid argument", Assert.Throws<ParseException>(() => nat.Apply("sysctl -w net.netfilter.nf_conntrack_count=5")).Message);
        Assert.Equal(3, nat.Table.MaxEntries);
    }

    [Fact]
    public void A_full_table_of_assured_entries_drops_the_new_connection_as_table_full()
    {
        var nat = Engine(3);
        for (ushort p = 1; p <= 3; p++) Assured(nat, p);
        Assert.True(nat.Entries().All(e => e.State.Assured));
        var v = nat.Process(new Packet(Udp("10.0.2.100", 9, "192.0.2.53", 53)));
        Assert.Equal((VerdictKind.Drop, DropReason.TableFull), (v.Kind, v.Reason));
        Assert.Equal((3, 0L, 1L, 0L), (nat.Table.Count, nat.Stats.EarlyDrop, nat.Stats.Drop, nat.Stats.InsertFailed));
        // A packet of an existing connection still passes.
        Assert.NotEqual(VerdictKind.Drop, nat.Process(new Packet(Tcp("10.0.2.100", 1, "192.0.2.80", 80), TcpFlags.Ack, 2, 101)).Kind);
    }

    [Fact]
    public void At_the_limit_an_unassured_entry_goes_and_an_assured_one_never_does()
    {
        var nat = Engine(3);
        Assured(nat, 1);
        Assured(nat, 2);
        var unassured = nat.Process(new Packet(Udp("10.0.2.100", 5, "192.0.2.53", 53)));
        var v = nat.Process(new Packet(Udp("10.0.2.100", 6, "192.0.2.53", 53)));
        Assert.True(v.Created);
        Assert.Equal((3, 1L), (nat.Table.Count, nat.Stats.EarlyDrop));
        Assert.DoesNotContain(nat.Entries(), e => e.Id == unassured.ConntrackId);
        Assert.Equal(2, nat.Entries().Count(e => e.State.Assured));
    }

    [Fact]
    public void Zero_means_no_limit()
    {
        var nat = Engine(0);
        for (ushort p = 1; p <= 50; p++) Assert.True(nat.Process(new Packet(Udp("10.0.2.100", p, "192.0.2.53", 53))).Created);
        Assert.Equal((50, 0L), (nat.Table.Count, nat.Stats.EarlyDrop));
    }

    [Fact]
    public void The_rule_itself()
    {
        Assert.False(ConntrackLimit.IsFull(2, 3));
        Assert.True(ConntrackLimit.IsFull(3, 3));
        Assert.False(ConntrackLimit.IsFull(1_000_000, 0));
        var s = new ConnState { Status = ConnStatus.Assured };
        Assert.False(ConntrackLimit.MayEarlyDrop(s));
        Assert.True(ConntrackLimit.MayEarlyDrop(new ConnState()));
    }
}
