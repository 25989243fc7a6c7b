using System.CommandLine;
using ActorNat.Cli.Commands;

namespace ActorNat.Node.Tests;

/// <summary>The `actornat` client commands against a live node, output captured.</summary>
public class CliTests
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
    public async Task Article_through_the_cli_send_then_conntrack_L_prints_conntrack_tools_lines_and_footer()
    {
        await using var n = await LiveNode.StartAsync();
        var t = n.Node.GrpcUrl;
        foreach (var a in new[] { "172.18.0.1/16 dev docker0", "10.0.2.15/24 dev eth0", "203.0.113.56/24 dev eth0" })
            Assert.Equal(0, (await Run(["addr", "add", .. a.Split(' '), "--target", t, "--token", LiveNode.Token])).Code);
        Assert.Equal(0, (await Run("route", "add", "default", "via", "10.0.2.2", "--target", t, "--token", LiveNode.Token)).Code);
        Assert.Equal(0, (await Run("route", "add", "198.51.100.1", "via", "203.0.113.4", "dev", "eth0", "--target", t, "--token", LiveNode.Token)).Code);
        Assert.Equal(0, (await Run("rule", "add", "-s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680", "--target", t, "--token", LiveNode.Token)).Code);
        Assert.Equal(0, (await Run("rule", "add", "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE", "--target", t, "--token", LiveNode.Token)).Code);

        var rules = await Run("rule", "list", "--target", t);
        Assert.Equal("-P POSTROUTING ACCEPT\n-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -p tcp -j MASQUERADE --to-ports 55666-55680\n-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE\n",
            rules.Out.Replace("\r\n", "\n"));

        var dns = await Run("send", "-p", "udp", "-s", "172.18.0.2", "--sport", "38000", "-d", "192.0.2.53", "--dport", "53", "--target", t);
        Assert.Equal(0, dns.Code);
        Assert.Contains("verdict: TRANSLATE", dns.Out);
        Assert.Contains("rewritten: src=10.0.2.15 dst=192.0.2.53 sport=38000 dport=53", dns.Out);
        var far = await Run("send", "-p", "tcp", "-s", "172.18.0.2", "--sport", "38002", "-d", "198.51.100.1", "--dport", "80", "--flags", "SYN", "--target", t);
        Assert.Contains("rewritten: src=203.0.113.56 dst=198.51.100.1 sport=556", far.Out);

        var list = await Run("conntrack", "-L", "--target", t);
        Assert.Equal(0, list.Code);
        var lines = list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^udp      17 \d+ src=172\.18\.0\.2 dst=192\.0\.2\.53 sport=38000 dport=53 \[UNREPLIED\] src=192\.0\.2\.53 dst=10\.0\.2\.15 sport=53 dport=38000 mark=0 use=1$", lines.Single(l => l.StartsWith("udp")));
        Assert.Matches(@"^tcp      6 1\d\d SYN_SENT src=172\.18\.0\.2 dst=198\.51\.100\.1 sport=38002 dport=80 \[UNREPLIED\] src=198\.51\.100\.1 dst=203\.0\.113\.56 sport=80 dport=556(6[6-9]|7\d|80) mark=0 use=1$", lines.Single(l => l.StartsWith("tcp")));
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n", list.Err.Replace("\r\n", "\n"));

        var tcpOnly = await Run("conntrack", "-L", "-p", "tcp", "--state", "SYN_SENT", "--target", t);
        Assert.Single(tcpOnly.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("2\n", (await Run("conntrack", "-C", "--target", t)).Out.Replace("\r\n", "\n"));
        Assert.StartsWith("cpu=0       \tfound=", (await Run("conntrack", "-S", "--target", t)).Out);

        var denied = await Run("conntrack", "-F", "--target", t);
        Assert.Equal(1, denied.Code);
        Assert.StartsWith("actornat: UNAUTHENTICATED", denied.Err);

        var del = await Run("conntrack", "-D", "-p", "udp", "--sport", "38000", "--target", t, "--token", LiveNode.Token);
        Assert.Equal(0, del.Code);
        Assert.StartsWith("udp      17", del.Out);
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n", del.Err.Replace("\r\n", "\n"));
        var flush = await Run("conntrack", "-F", "--target", t, "--token", LiveNode.Token);
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): connection tracking table has been emptied.\n", flush.Err.Replace("\r\n", "\n"));
        Assert.Equal(0ul, await n.CountAsync());

        var status = await Run("cluster", "status", "--target", t);
        Assert.StartsWith("MEMBER", status.Out);
        Assert.Contains("Up", status.Out);
    }

    [Fact]
    public async Task Malformed_send_prints_the_nodes_invalid_argument()
    {
        await using var n = await LiveNode.StartAsync();
        var r = await Run("send", "-p", "tcp", "-s", "172.18.0.2", "--sport", "70000", "-d", "192.0.2.80", "--dport", "80", "--target", n.Node.GrpcUrl);
        Assert.Equal(1, r.Code);
        Assert.Equal("actornat: INVALID_ARGUMENT: invalid packet.src_port=70000: out of range 0-65535\n", r.Err.Replace("\r\n", "\n"));
        var rule = await Run("rule", "add", "-s 172.18.0.0/16 -j MASQUERADE --to-ports 1-2", "--target", n.Node.GrpcUrl, "--token", LiveNode.Token);
        Assert.Equal(1, rule.Code);
        Assert.Contains("wrong token: \"--to-ports\"", rule.Err);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("send")]
    [InlineData("conntrack")]
    [InlineData("rule", "add")]
    [InlineData("rule", "del")]
    [InlineData("rule", "list")]
    [InlineData("addr", "add")]
    [InlineData("route", "del")]
    [InlineData("cluster", "status")]
    public async Task Every_command_has_help_with_an_example(params string[] path)
    {
        var r = await Run([.. path, "--help"]);
        Assert.Equal(0, r.Code);
        Assert.Contains("Example", r.Out);
        Assert.Contains("actornat " + path[0], r.Out);
    }
}
