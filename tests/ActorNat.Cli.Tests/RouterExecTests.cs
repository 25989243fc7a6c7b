using ActorNat.Cli.Simulate;
using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Cli.Tests;

/// <summary>A scenario's router `exec` commands that change conntrack: what is read, and what is refused by name.</summary>
public class RouterExecTests
{
    [Fact]
    public void Conntrack_delete_takes_conntrack_tools_filters()
    {
        var d = Assert.IsType<ConntrackDeletion>(RouterExec.Parse(
            ["conntrack", "-D", "-p", "tcp", "--orig-src", "172.18.0.2", "-d", "192.0.2.80", "--sport", "40000", "--dport", "80", "--state", "time_wait"]));
        Assert.False(d.Flush);
        Assert.Equal(new ConntrackFilter(Protocol.Tcp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.80"), 40000, 80, TcpState.TimeWait), d.Filter);
    }

    [Theory]
    [InlineData("conntrack -F")]
    [InlineData("conntrack --flush conntrack")]
    [InlineData("sh -c 'conntrack -F'")]
    public void A_flush_deletes_everything(string line)
    {
        var d = Assert.IsType<ConntrackDeletion>(RouterExec.Parse(Words(line)));
        Assert.True(d.Flush);
        Assert.Equal(ConntrackFilter.All, d.Filter);
    }

    [Theory]
    [InlineData("sysctl -w net.netfilter.nf_conntrack_udp_timeout=5", "net.netfilter.nf_conntrack_udp_timeout", "5")]
    [InlineData("sysctl -q -w net/netfilter/nf_conntrack_max=100", "net.netfilter.nf_conntrack_max", "100")]
    [InlineData("sh -c 'echo 7 > /proc/sys/net/netfilter/nf_conntrack_icmp_timeout'", "net.netfilter.nf_conntrack_icmp_timeout", "7")]
    public void Sysctl_writes_are_read_in_both_forms(string line, string key, string value)
    {
        var s = Assert.IsType<SysctlChange>(RouterExec.Parse(Words(line)));
        Assert.Equal([(key, value)], s.Assignments);
    }

    [Theory]
    [InlineData("conntrack -L")]
    [InlineData("sysctl net.netfilter.nf_conntrack_udp_timeout")]
    [InlineData("ip route add 10.9.0.0/16 via 10.0.2.2")]
    [InlineData("sh -c 'for f in /proc/sys/net/netfilter/*; do cat $f; done'")]
    public void Reads_and_other_commands_are_not_conntrack_changes(string line) => Assert.Null(RouterExec.Parse(Words(line)));

    [Theory]
    [InlineData("conntrack -D --mark 1", "--mark")]
    [InlineData("conntrack -D -s 300.1.1.1", "300.1.1.1")]
    [InlineData("conntrack -D -p sctp", "sctp")]
    [InlineData("conntrack -D --sport", "--sport")]
    [InlineData("conntrack -D -F", "-F")]
    [InlineData("sysctl -w net.netfilter.nf_conntrack_udp_timeout", "net.netfilter.nf_conntrack_udp_timeout")]
    public void Unsupported_or_malformed_commands_name_the_token(string line, string token)
    {
        var e = Assert.Throws<ParseException>(() => RouterExec.Parse(Words(line)));
        Assert.Equal(token, e.Token);
    }

    private static List<string> Words(string line) => ActorNat.Core.Rules.CommandLine.Split(line);
}
