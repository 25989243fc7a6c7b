using System.CommandLine;
using ActorNat.Cli.Commands;

namespace ActorNat.Node.Tests;

/// <summary>`actornat sysctl` against a live node (in-process backend): set, read back, the table limit applied, refusals.</summary>
public class SysctlCliTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var root = new RootCommand("test");
        ClientCommands.AddTo(root);
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = o, Error = e });
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Sysctl_sets_and_reads_back_nf_conntrack_max_and_the_limit_holds()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var t = n.Node.GrpcUrl;
        var set = await Run("sysctl", "-w", "net.netfilter.nf_conntrack_max=2", "--target", t, "--token", LiveNode.Token);
        Assert.Equal((0, "net.netfilter.nf_conntrack_max = 2\n"), (set.Code, set.Out.Replace("\r\n", "\n")));

        // Two assured-free UDP flows fill it; a third early-drops the older one; the count reads back as sysctl prints it.
        for (uint p = 1; p <= 3; p++)
            Assert.Equal(0, (await Run("send", "-p", "udp", "-s", "172.18.0.2", "--sport", $"{40000 + p}", "-d", "192.0.2.53", "--dport", "53", "--target", t)).Code);
        var read = await Run("sysctl", "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_count", "--target", t);
        Assert.Equal("net.netfilter.nf_conntrack_max = 2\nnet.netfilter.nf_conntrack_count = 2\n", read.Out.Replace("\r\n", "\n"));
        var stats = await Run("conntrack", "-S", "--target", t);
        Assert.Contains("early_drop=1", stats.Out);

        var all = await Run("sysctl", "-a", "--target", t);
        Assert.Contains("net.netfilter.nf_conntrack_udp_timeout = 30", all.Out);

        // Refused as sysctl(8) refuses: an unknown key, a negative limit, the read-only count.
        var unknown = await Run("sysctl", "net.netfilter.nf_conntrack_bogus", "--target", t);
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("cannot stat /proc/sys/net/netfilter/nf_conntrack_bogus", unknown.Err);
        var negative = await Run("sysctl", "-w", "net.netfilter.nf_conntrack_max=-1", "--target", t, "--token", LiveNode.Token);
        Assert.NotEqual(0, negative.Code);
        Assert.Contains("Invalid argument", negative.Err);
        Assert.NotEqual(0, (await Run("sysctl", "-w", "net.netfilter.nf_conntrack_count=5", "--target", t, "--token", LiveNode.Token)).Code);
    }
}
