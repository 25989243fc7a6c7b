using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>The journal and allocation histograms of a cluster node on SQLite move with the new flows.</summary>
public class JournalMetricsTests
{
    [Fact]
    public async Task New_flows_on_the_cluster_backend_are_timed_and_counted_at_the_journal()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-journal-metrics-");
        try
        {
            await using var n = await LiveNode.StartArticleAsync(new()
            {
                ["ActorNat:Backend"] = "cluster",
                ["ActorNat:Remoting"] = "127.0.0.1:0",
                ["ActorNat:Database"] = "sqlite:" + Path.Combine(dir.FullName, "actornat.db"),
            });
            var url = n.Node.MetricsUrl!;
            const string events = "journal=\"events\",node=\"node1\"";
            var before = await MetricsTests.ScrapeAsync(url);
            double Was(string series) => before.TryGetValue(series, out var v) ? v : 0;

            // 40 new UDP flows: each one is a pool's durable reservation (one event) before its verdict.
            for (uint i = 0; i < 40; i++)
            {
                var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 20000 + i, "192.0.2.53", 53) });
                Assert.Equal(Wire.VerdictAction.Translate, v.Action);
            }

            var after = await MetricsTests.ScrapeAsync(url);
            double writes = after[$"actornat_journal_write_duration_seconds_count{{{events}}}"] - Was($"actornat_journal_write_duration_seconds_count{{{events}}}");
            double carried = after[$"actornat_journal_write_batch_events_sum{{{events}}}"] - Was($"actornat_journal_write_batch_events_sum{{{events}}}");
            double seconds = after[$"actornat_journal_write_duration_seconds_sum{{{events}}}"] - Was($"actornat_journal_write_duration_seconds_sum{{{events}}}");
            // Every reservation was acknowledged by the journal before its verdict came back, so all 40 events are in.
            Assert.InRange(carried, 40, 40 + 10); // (+ a few refreshes or config events at most)
            Assert.InRange(writes, 1, carried);
            Assert.True(seconds > 0, "journal write time adds up");
            Assert.Equal(writes, after[$"actornat_journal_write_batch_events_count{{{events}}}"] - Was($"actornat_journal_write_batch_events_count{{{events}}}"));
            Assert.Equal(0, after.GetValueOrDefault($"actornat_journal_write_failures_total{{{events.Replace("journal=\"events\"", "journal=\"events\",kind=\"failed\"")}}}"));
            // Each new flow's decision and allocation is timed once, by its conntrack entity.
            const string alloc = "actornat_allocation_duration_seconds_count{node=\"node1\"}";
            Assert.Equal(40, after[alloc] - Was(alloc));
            // Sharding's remember-entities journal (the pools are remembered) is timed apart.
            Assert.True(after.GetValueOrDefault("actornat_journal_write_duration_seconds_count{journal=\"sharding\",node=\"node1\"}") > 0,
                "the sharding journal reports its writes");
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
