using ActorNat.Core;
using ActorNat.Core.Engine;

namespace ActorNat.Cluster.Tests;

/// <summary>The configuration entity takes a batch all or none, persists it as one event, and recovers it whole.</summary>
public class AtomicConfigTests
{
    [Fact]
    public async Task A_refused_line_applies_no_line_of_the_batch_and_an_accepted_batch_survives_a_restart()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"actornat-atomic-{Guid.NewGuid():N}");
        var db = $"sqlite:{Path.Combine(dir, "actornat.db")}";
        int rules = 0;
        try
        {
            await using (var first = await TestCluster.Start(1, db))
            {
                var nat = first.Nodes[0].Backend;
                await nat.ApplyConfigAsync(SmokeTests.Article);
                var before = await nat.GetConfigAsync();
                var bad = new[]
                {
                    "ip addr add 192.168.77.1/24 dev eth7",
                    "iptables -t nat -A POSTROUTING -s 10.10.0.0/16 -j MASQUERADE",
                    "iptables -t nat -A POSTROUTING -s 10.11.0.0/16 -j MASQUERAD",
                };
                var e = await Assert.ThrowsAsync<ConfigLineException>(() => nat.ApplyConfigAsync(bad));
                Assert.Equal(2, e.Index);
                Assert.IsType<ParseException>(e.InnerException);
                var after = await nat.GetConfigAsync();
                Assert.Equal(before.Addresses, after.Addresses);
                Assert.Equal(before.Rules, after.Rules);

                await nat.ApplyConfigAsync(bad[..2]);
                rules = (await nat.GetConfigAsync()).Rules.Count;
                Assert.Equal(before.Rules.Count + 1, rules);
            }
            await using var second = await TestCluster.Start(1, db);
            var again = second.Nodes[0].Backend;
            await TestCluster.Until(async () => (await again.GetConfigAsync()).Rules.Count == rules, TimeSpan.FromSeconds(30), "the batch recovered");
            Assert.Contains((await again.GetConfigAsync()).Addresses, a => a.Contains("192.168.77.1/24"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
