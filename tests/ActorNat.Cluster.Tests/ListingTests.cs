using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using Evict = ActorNat.Cluster.Messages.Evict;

namespace ActorNat.Cluster.Tests;

/// <summary>conntrack -L over pools too large for one remoting frame (128 kB): the listing is paged.</summary>
public sealed class ListingTests
{
    [Fact]
    public async Task A_pool_of_thousands_of_entries_lists_whole_from_another_node()
    {
        // One pool bucket: every entry in one pool, on one of the two nodes; both nodes list all of them.
        await using var cluster = await TestCluster.Start(2, configure: o => o with { PoolBuckets = 1 });
        var nat = cluster.Nodes[0].Backend;
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
        const int flows = 3000;
        await Parallel.ForEachAsync(Enumerable.Range(0, flows), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (n, _) =>
            Assert.NotEqual(VerdictKind.Drop, (await nat.TranslateAsync(new Packet(LoadDriver.Flow(n)))).Kind));
        foreach (var node in cluster.Nodes)
        {
            var list = await node.Backend.ListAsync(ConntrackFilter.All);
            Assert.Equal(flows, list.Count);
            Assert.Equal(flows, list.Select(r => r.Entry.Id).Distinct().Count());
        }
        // A paged delete removes every match too.
        Assert.Equal(flows, await cluster.Nodes[1].Backend.DeleteAsync(ConntrackFilter.All));
        Assert.Empty(await nat.ListAsync(ConntrackFilter.All));
    }

    [Fact]
    public async Task After_a_flush_returns_the_next_packet_of_each_connection_opens_a_new_one()
    {
        // Entities that hold their entries (each flow's second packet went through its entity), on three nodes: once
        // conntrack -F returns, no packet may be answered from a flushed entry.
        await using var cluster = await TestCluster.Start(3);
        var nat = cluster.Nodes[0].Backend;
        foreach (var line in SmokeTests.Article) await nat.ApplyConfigAsync(line);
        const int flows = 300;
        var before = new ulong[flows];
        for (int round = 0; round < 2; round++)
            await Parallel.ForEachAsync(Enumerable.Range(0, flows), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (n, _) =>
                before[n] = (await cluster.Nodes[n % 3].Backend.TranslateAsync(new Packet(LoadDriver.Flow(n)))).ConntrackId);
        // The pools' own evictions are still on their way (lost here): only what the flush itself waits for counts.
        foreach (var node in cluster.Nodes) node.Context.LoseAtEntity = m => m is Evict { Ack: false };
        Assert.Equal(flows, await cluster.Nodes[1].Backend.DeleteAsync(ConntrackFilter.All));
        await Parallel.ForEachAsync(Enumerable.Range(0, flows), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (n, _) =>
        {
            var v = await cluster.Nodes[n % 3].Backend.TranslateAsync(new Packet(LoadDriver.Flow(n)));
            Assert.True(v.Created, $"flow {n}: answered from a flushed entry ({v.Kind}, id {v.ConntrackId})");
            Assert.NotEqual(before[n], v.ConntrackId);
        });
        Assert.Equal(flows, (await nat.ListAsync(ConntrackFilter.All)).Count);
    }
}
