using Akka.Actor;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Tests;

/// <summary>The fence's judgement of a split (as keep-majority downs), and what a fenced node refuses.</summary>
public sealed class FenceTests
{
    private static Address A(int port) => new("akka.tcp", "actornat", "127.0.0.1", port);

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, new[] { 1, 2 }, false)] // the two of three keep going
    [InlineData(new[] { 1, 2, 3 }, new[] { 3 }, true)]     // the one cut off stops acting
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 1, 4 }, false)] // half, with the lowest address: kept
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 2, 3 }, true)]  // half, without it: goes
    [InlineData(new[] { 1, 2 }, new[] { 2 }, true)]
    [InlineData(new[] { 1, 2 }, new[] { 1 }, false)]
    [InlineData(new[] { 1 }, new[] { 1 }, false)]
    public void Minority_is_judged_as_keep_majority_downs(int[] members, int[] reachable, bool minority) =>
        Assert.Equal(minority, FenceMonitor.IsMinority(members.Select(A).ToList(), reachable.Select(A).ToList()));

    [Fact]
    public void A_fence_on_the_minority_side_refuses_until_reachability_returns()
    {
        using var fence = new NodeFence(TimeSpan.FromSeconds(30));
        var changes = new List<bool>();
        fence.MinorityChanged += changes.Add;
        Assert.True(fence.MayAct);
        fence.SetMinority(true);
        Assert.False(fence.MayAct);
        Assert.Contains("majority", fence.Reason);
        fence.SetMinority(false);
        Assert.True(fence.MayAct);
        Assert.Null(fence.Reason);
        Assert.Equal([true, false], changes);
    }

    [Fact]
    public async Task A_fenced_node_answers_no_packet()
    {
        await using var cluster = await TestCluster.Start(1);
        var node = cluster.Nodes[0];
        node.Context.Fence.SetMinority(true);
        var e = await Assert.ThrowsAsync<NodeFencedException>(async () =>
            await node.Backend.TranslateAsync(new ActorNat.Core.Engine.Packet(LoadDriver.Flow(1))));
        Assert.Contains("majority", e.Message);
        Assert.True(node.Context.Counters.Fenced > 0);
        node.Context.Fence.SetMinority(false);
    }
}
