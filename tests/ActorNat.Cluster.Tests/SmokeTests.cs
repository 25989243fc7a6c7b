using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;

namespace ActorNat.Cluster.Tests;

public class SmokeTests
{
    public static readonly string[] Article =
    [
        "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip addr add 203.0.113.56/24 dev eth0",
        "ip route add default via 10.0.2.2", "ip route add 198.51.100.1 via 203.0.113.4 dev eth0",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
    ];

    [Fact]
    public async Task One_node_gives_the_articles_verdicts_and_translates_replies()
    {
        await using var cluster = await TestCluster.Start(1);
        var nat = cluster.Nodes[0].Backend;
        foreach (var line in Article) await nat.ApplyConfigAsync(line);

        var dns = await nat.TranslateAsync(new Packet(new FiveTuple(Protocol.Udp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.53"), 38000, 53)));
        Assert.Equal((VerdictKind.Translate, "10.0.2.15", (ushort)38000, true), (dns.Kind, dns.Rewritten.Src.ToString(), dns.Rewritten.SPort, dns.Created));
        var syn = new FiveTuple(Protocol.Tcp, IPv4.Parse("172.18.0.2"), IPv4.Parse("192.0.2.80"), 38001, 80);
        var http = await nat.TranslateAsync(new Packet(syn, TcpFlags.Syn, 100));
        Assert.InRange(http.Rewritten.SPort, (ushort)55666, (ushort)55680);
        var synAck = await nat.TranslateAsync(new Packet(http.Rewritten.Invert(), TcpFlags.Syn | TcpFlags.Ack, 500));
        Assert.Equal((Direction.Reply, syn.Invert()), (synAck.Direction, synAck.Rewritten));
        var ack = await nat.TranslateAsync(new Packet(syn, TcpFlags.Ack, 101));
        Assert.Equal(http.ConntrackId, ack.ConntrackId);
        var far = await nat.TranslateAsync(new Packet(new FiveTuple(Protocol.Tcp, IPv4.Parse("172.18.0.2"), IPv4.Parse("198.51.100.1"), 38002, 80), TcpFlags.Syn, 1));
        Assert.Equal("203.0.113.56", far.Rewritten.Src.ToString());

        await TestCluster.Until(async () => (await nat.ListAsync(ConntrackFilter.All)).Any(r => r.Entry.State.Tcp == TcpState.Established),
            TimeSpan.FromSeconds(10), "the pool's copy shows ESTABLISHED");
        var list = await nat.ListAsync(ConntrackFilter.All);
        Assert.Equal(3, list.Count);
        var established = list.Single(r => r.Entry.Id == http.ConntrackId);
        Assert.True(established.Entry.State.Assured);
    }
}

/// <summary>One node on its embedded SQLite file: what it acknowledged survives a restart of the process's node.</summary>
public class SqliteNodeTests
{
    [Fact]
    public async Task A_restarted_node_answers_with_the_mappings_it_acknowledged()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"actornat-sqlite-{Guid.NewGuid():N}");
        var db = $"sqlite:{Path.Combine(dir, "actornat.db")}";
        var flows = Enumerable.Range(0, 200).Select(LoadDriver.Flow).ToList();
        var acknowledged = new Dictionary<FiveTuple, Verdict>();
        try
        {
            await using (var first = await TestCluster.Start(1, db))
            {
                var nat = first.Nodes[0].Backend;
                foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
                foreach (var f in flows) acknowledged[f] = await nat.TranslateAsync(new Packet(f));
            }
            await using var second = await TestCluster.Start(1, db);
            var again = second.Nodes[0].Backend;
            // The configuration came back from the journal too: no line re-applied.
            await TestCluster.Until(async () => (await again.GetConfigAsync()).Rules.Count == 3, TimeSpan.FromSeconds(30), "the configuration recovered");
            foreach (var f in flows)
            {
                var v = await again.TranslateAsync(new Packet(f));
                Assert.Equal((acknowledged[f].Rewritten, acknowledged[f].ConntrackId, false), (v.Rewritten, v.ConntrackId, v.Created));
            }
            Assert.Equal(flows.Count, (await again.ListAsync(ConntrackFilter.All)).Count);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
