using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Tests.Unit;

/// <summary>Lines copied from the kernel's conntrack -L (KERNEL-BEHAVIOUR.md), rebuilt from entries.</summary>
public class FormatterTests
{
    private static ConntrackEntry Entry(FiveTuple orig, string natIp, ushort natPort, ConnStatus status, TcpState tcp, long remainingMs)
    {
        var reply = PortAllocator.ReplyFor(orig, IPv4.Parse(natIp), natPort);
        return new ConntrackEntry
        {
            Original = orig, Reply = reply,
            State = new ConnState { Proto = orig.Proto, Tcp = tcp, Status = status, ExpiresMs = remainingMs },
        };
    }

    [Fact]
    public void Tcp_established_assured()
    {
        var e = Entry(Tuples.Tcp("172.18.0.2", 38001, "192.0.2.80", 80), "10.0.2.15", 55677, ConnStatus.SeenReply | ConnStatus.Assured, TcpState.Established, 431_999_500);
        Assert.Equal("tcp      6 431999 ESTABLISHED src=172.18.0.2 dst=192.0.2.80 sport=38001 dport=80 src=192.0.2.80 dst=10.0.2.15 sport=80 dport=55677 [ASSURED] mark=0 use=1",
            ConntrackFormatter.Format(e, 0));
    }

    [Fact]
    public void Tcp_syn_sent_unreplied()
    {
        var e = Entry(Tuples.Tcp("172.18.0.2", 48000, "192.0.2.80", 80), "10.0.2.15", 55671, ConnStatus.None, TcpState.SynSent, 115_200);
        Assert.Equal("tcp      6 115 SYN_SENT src=172.18.0.2 dst=192.0.2.80 sport=48000 dport=80 [UNREPLIED] src=192.0.2.80 dst=10.0.2.15 sport=80 dport=55671 mark=0 use=1",
            ConntrackFormatter.Format(e, 0));
    }

    [Fact]
    public void Udp_and_icmp()
    {
        var u = Entry(Tuples.Udp("172.18.0.2", 48012, "192.0.2.53", 53), "10.0.2.15", 48012, ConnStatus.SeenReply | ConnStatus.Assured, TcpState.None, 118_900);
        Assert.Equal("udp      17 118 src=172.18.0.2 dst=192.0.2.53 sport=48012 dport=53 src=192.0.2.53 dst=10.0.2.15 sport=53 dport=48012 [ASSURED] mark=0 use=1",
            ConntrackFormatter.Format(u, 0));
        var i = Entry(FiveTuple.Icmp(IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), 8, 0, 4801), "10.0.2.15", 4801, ConnStatus.None, TcpState.None, 29_999);
        Assert.Equal("icmp     1 29 src=172.18.0.2 dst=192.0.2.53 type=8 code=0 id=4801 [UNREPLIED] src=192.0.2.53 dst=10.0.2.15 type=0 code=0 id=4801 mark=0 use=1",
            ConntrackFormatter.Format(i, 0));
    }

    [Fact]
    public void Footer() =>
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.", ConntrackFormatter.Footer(3));
}
