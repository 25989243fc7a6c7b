using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>The seed article's experiment through gRPC against a live node.</summary>
public class ArticleScenarioTests
{
    private static async Task<Wire.Verdict> Send(LiveNode n, Wire.PacketMeta p) =>
        await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = p, WithEntry = true });

    [Fact]
    public async Task Article_flows_get_the_articles_mappings_and_replies_translate_back()
    {
        await using var n = await LiveNode.StartArticleAsync();

        // DNS over UDP: port 38000 kept, NAT address 10.0.2.15 (eth0's first primary whose subnet holds the gateway 10.0.2.2).
        var dns = await Send(n, LiveNode.Udp("172.18.0.2", 38000, "192.0.2.53", 53));
        Assert.Equal(Wire.VerdictAction.Translate, dns.Action);
        Assert.True(dns.Created);
        Assert.Equal("10.0.2.15", dns.Rewritten.SrcAddress);
        Assert.Equal(38000u, dns.Rewritten.SrcPort);
        Assert.Equal(new[] { "UNREPLIED" }, dns.Flags);

        // HTTP over TCP: the first rule's --to-ports 55666-55680.
        var http = await Send(n, LiveNode.Tcp("172.18.0.2", 38001, "192.0.2.80", 80, LiveNode.Syn, 1000));
        Assert.Equal(Wire.VerdictAction.Translate, http.Action);
        Assert.Equal("10.0.2.15", http.Rewritten.SrcAddress);
        Assert.InRange(http.Rewritten.SrcPort, 55666u, 55680u);
        Assert.Equal("SYN_SENT", http.State);

        // The far destination routes via 203.0.113.4: NAT address 203.0.113.56.
        var far = await Send(n, LiveNode.Tcp("172.18.0.2", 38002, "198.51.100.1", 80, LiveNode.Syn, 5000));
        Assert.Equal("203.0.113.56", far.Rewritten.SrcAddress);
        Assert.InRange(far.Rewritten.SrcPort, 55666u, 55680u);
        Assert.Equal("198.51.100.1", far.Reply.SrcAddress);
        Assert.Equal("203.0.113.56", far.Reply.DstAddress);

        // Replies to the NAT address translate back to the client.
        var dnsBack = await Send(n, LiveNode.Udp("192.0.2.53", 53, "10.0.2.15", 38000));
        Assert.Equal(Wire.PacketDirection.Reply, dnsBack.Direction);
        Assert.Equal(dns.ConntrackId, dnsBack.ConntrackId);
        Assert.Equal("172.18.0.2", dnsBack.Rewritten.DstAddress);
        Assert.Equal(38000u, dnsBack.Rewritten.DstPort);
        Assert.Empty(dnsBack.Flags);

        var synAck = await Send(n, LiveNode.Tcp("192.0.2.80", 80, "10.0.2.15", http.Rewritten.SrcPort, LiveNode.Syn | LiveNode.Ack, 9000));
        Assert.Equal(Wire.PacketDirection.Reply, synAck.Direction);
        Assert.Equal("172.18.0.2", synAck.Rewritten.DstAddress);
        Assert.Equal(38001u, synAck.Rewritten.DstPort);
        Assert.Equal("SYN_RECV", synAck.State);
        var ack = await Send(n, LiveNode.Tcp("172.18.0.2", 38001, "192.0.2.80", 80, LiveNode.Ack, 1001));
        Assert.Equal("ESTABLISHED", ack.State);
        Assert.Contains("ASSURED", ack.Flags);

        var entries = await n.ListAsync();
        Assert.Equal(3, entries.Count);
        var lines = entries.Select(e => e.Line).ToList();
        Assert.Contains(lines, l => l.StartsWith("udp      17 ") && l.Contains("src=172.18.0.2 dst=192.0.2.53 sport=38000 dport=53 src=192.0.2.53 dst=10.0.2.15 sport=53 dport=38000 mark=0 use=1"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            @"^tcp      6 43\d{4} ESTABLISHED src=172\.18\.0\.2 dst=192\.0\.2\.80 sport=38001 dport=80 src=192\.0\.2\.80 dst=10\.0\.2\.15 sport=80 dport=" + http.Rewritten.SrcPort + @" \[ASSURED\] mark=0 use=1$"));
        Assert.Contains(lines, l => l.Contains("SYN_SENT src=172.18.0.2 dst=198.51.100.1 sport=38002 dport=80 [UNREPLIED] src=198.51.100.1 dst=203.0.113.56"));
        Assert.Equal(3ul, await n.CountAsync());
        var status = await n.Admin.ClusterStatusAsync(new Wire.Empty());
        Assert.Equal(3ul, Assert.Single(status.Members).Entries);
    }

    [Fact]
    public async Task Config_file_is_applied_at_start_and_a_bad_line_stops_the_node_naming_the_token()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-test-");
        try
        {
            var good = Path.Combine(dir.FullName, "router.conf");
            await File.WriteAllLinesAsync(good, ["# the article's router", "", .. LiveNode.ArticleConfig]);
            await using (var n = await LiveNode.StartAsync(new() { ["ActorNat:ConfigFile"] = good }))
            {
                var rules = await n.Admin.RuleListAsync(new Wire.ListRequest());
                Assert.Equal(3, rules.Lines.Count);
                var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 38000, "192.0.2.53", 53) });
                Assert.Equal("10.0.2.15", v.Rewritten.SrcAddress);
            }

            var bad = Path.Combine(dir.FullName, "bad.conf");
            await File.WriteAllLinesAsync(bad, ["ip addr add 172.18.0.1/16 dev docker0", "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -j MASQUERAD"]);
            var e = await Assert.ThrowsAsync<NodeStartupException>(() => LiveNode.StartAsync(new() { ["ActorNat:ConfigFile"] = bad }));
            Assert.Contains("bad.conf:2", e.Message);
            Assert.Contains("\"MASQUERAD\"", e.Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
