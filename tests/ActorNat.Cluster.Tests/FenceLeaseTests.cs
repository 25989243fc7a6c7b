using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using ActorNat.Cluster.Failover;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Tests;

/// <summary>The lease: a node acts only while a majority answered its recent pings, and its timing stays below the earliest takeover.</summary>
public sealed class FenceLeaseTests
{
    private static Address A(int port) => new("akka.tcp", "actornat", "127.0.0.1", port);
    private const long Lease = 1000;

    private static Address[] Voters(params int[] ports) => ports.Select(A).ToArray();
    private static readonly MemberStatus? Up = MemberStatus.Up;

    [Fact]
    public void Two_of_three_hold_the_lease_until_the_older_of_the_two_freshest_answers_runs_out()
    {
        var voters = Voters(1, 2, 3);
        // Node 1 heard node 2's answer to a ping sent at 500, node 3's to one sent at 800: one peer makes a majority.
        Assert.Equal(800 + Lease, LeaseKeeper.LeaseUntil(A(1), Up, voters, new Dictionary<Address, long> { [A(2)] = 500, [A(3)] = 800 }, Lease));
        // Cut off from both, nothing answered since 0: the lease ran out at 0 + lease.
        Assert.Equal(0 + Lease, LeaseKeeper.LeaseUntil(A(1), Up, voters, new Dictionary<Address, long> { [A(2)] = 0 }, Lease));
        // Never answered: no lease at all.
        Assert.Equal(0, LeaseKeeper.LeaseUntil(A(1), Up, voters, new Dictionary<Address, long>(), Lease));
    }

    [Fact]
    public void Of_two_nodes_the_lowest_address_needs_no_answer_and_the_other_needs_one()
    {
        var voters = Voters(1, 2);
        Assert.Equal(long.MaxValue, LeaseKeeper.LeaseUntil(A(1), Up, voters, new Dictionary<Address, long>(), Lease));
        Assert.Equal(0, LeaseKeeper.LeaseUntil(A(2), Up, voters, new Dictionary<Address, long>(), Lease));
        Assert.Equal(300 + Lease, LeaseKeeper.LeaseUntil(A(2), Up, voters, new Dictionary<Address, long> { [A(1)] = 300 }, Lease));
    }

    [Fact]
    public void A_node_alone_or_not_yet_up_needs_no_lease_and_a_downed_one_never_holds_one()
    {
        Assert.Equal(long.MaxValue, LeaseKeeper.LeaseUntil(A(1), Up, Voters(1), new Dictionary<Address, long>(), Lease));
        Assert.Equal(long.MaxValue, LeaseKeeper.LeaseUntil(A(1), MemberStatus.Joining, Voters(2, 3), new Dictionary<Address, long>(), Lease));
        Assert.Equal(long.MaxValue, LeaseKeeper.LeaseUntil(A(1), null, Voters(2, 3), new Dictionary<Address, long>(), Lease));
        // Downed (its own resolver, on the minority side): no lease, whatever answered.
        Assert.Equal(0, LeaseKeeper.LeaseUntil(A(1), MemberStatus.Down, Voters(1, 2, 3), new Dictionary<Address, long> { [A(2)] = 500, [A(3)] = 800 }, Lease));
    }

    [Fact]
    public void A_cut_off_node_that_downed_and_removed_the_others_itself_still_counts_them()
    {
        // The chaos run that found it: node 1, cut off, saw node 2 unreachable 1 s before node 3, so its own resolver
        // downed node 2 (then node 3) and removed both. Had they stopped counting, node 1 would have held the lease
        // alone. The keeper keeps a member removed while it held no lease as a voter: node 1 stays fenced.
        Assert.Equal(0, LeaseKeeper.LeaseUntil(A(1), Up, Voters(1, 2, 3), new Dictionary<Address, long>(), Lease));
        Assert.Equal(long.MaxValue, LeaseKeeper.LeaseUntil(A(1), Up, Voters(1), new Dictionary<Address, long>(), Lease)); // what counting only members would give
    }

    [Fact]
    public void A_lapsed_lease_fences_the_node_from_its_deadline_and_lifts_when_renewed()
    {
        using var fence = new NodeFence(TimeSpan.FromSeconds(30));
        var changes = new List<(bool Up, long Since, string Why)>();
        fence.SoftFenceChanged += (up, since, why) => changes.Add((up, since, why));
        Assert.True(fence.MayAct);
        long now = Stopwatch.GetTimestamp();
        fence.SetLease(now + Stopwatch.Frequency * 10);
        Assert.True(fence.MayAct);
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        fence.SetLease(now - Stopwatch.Frequency); // ran out a second ago
        Assert.False(fence.MayAct);
        Assert.Contains("lease", fence.Reason);
        var lapse = Assert.Single(changes);
        Assert.True(lapse.Up);
        Assert.Equal("lease", lapse.Why);
        Assert.InRange(lapse.Since, before - 1500, before - 500); // dated from the deadline, not from when it was noticed
        fence.SetLease(Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10);
        Assert.True(fence.MayAct);
        Assert.False(changes[^1].Up);
        fence.SetLease(long.MaxValue);
        Assert.Equal(2, changes.Count);
    }

    [Fact]
    public void The_default_timing_keeps_the_lease_and_the_pause_limit_below_the_earliest_takeover()
    {
        var t = FailoverTiming.Of(new ClusterNodeOptions());
        Assert.True(t.Lease + t.Heartbeat + FailoverTiming.RoundTripBudget < t.EarliestTakeover, $"{t}");
        Assert.True(t.PauseLimit + t.Heartbeat <= t.EarliestTakeover, $"{t}");
        Assert.True(t.Lease >= TimeSpan.FromMilliseconds(500), $"a lease of {t.Lease} would lapse under ordinary load");
        Assert.Throws<ArgumentException>(() => FailoverTiming.Of(new ClusterNodeOptions
        {
            AcceptableHeartbeatPause = TimeSpan.FromMilliseconds(300), StableAfter = TimeSpan.FromMilliseconds(200), RemovalMargin = TimeSpan.Zero,
        }));
    }

    [Fact]
    public void The_split_brain_resolvers_tick_exists_in_this_akka() => Assert.NotNull(SbrTicker.ResolverTick());

    [Fact]
    public void The_shard_coordinators_state_initialized_exists_in_this_akka() => Assert.NotNull(CoordinatorKick.StateInitialized());

    [Fact]
    public void A_gone_member_is_downed_only_by_a_node_that_holds_its_lease_on_the_others_answers()
    {
        var voters = Voters(1, 2, 3);
        long now = 1500;
        // Node 3 is gone; node 2 answered a ping sent at 800: node 1 holds its lease without node 3 (2 of 3).
        Assert.True(LeaseKeeper.HoldsWithout(A(1), Up, voters, new Dictionary<Address, long> { [A(2)] = 800, [A(3)] = 1400 }, A(3), Lease, now));
        // Only node 3 (the gone one) answered lately: its answers do not count for its own downing.
        Assert.False(LeaseKeeper.HoldsWithout(A(1), Up, voters, new Dictionary<Address, long> { [A(2)] = 100, [A(3)] = 1400 }, A(3), Lease, now));
        // A cut-off node (nobody answered within the lease) downs nobody this way.
        Assert.False(LeaseKeeper.HoldsWithout(A(1), Up, voters, new Dictionary<Address, long>(), A(2), Lease, now));
        // Of two, the lowest address may down the other alone (as keep-majority would); the other may not.
        Assert.True(LeaseKeeper.HoldsWithout(A(1), Up, Voters(1, 2), new Dictionary<Address, long>(), A(2), Lease, now));
        Assert.False(LeaseKeeper.HoldsWithout(A(2), Up, Voters(1, 2), new Dictionary<Address, long> { [A(1)] = 1400 }, A(1), Lease, now));
        // The member is counted even when the voters passed no longer hold it (removed meanwhile): still 1 of 2.
        Assert.False(LeaseKeeper.HoldsWithout(A(2), Up, Voters(2), new Dictionary<Address, long>(), A(1), Lease, now));
        // Downed, or not yet Up: never.
        Assert.False(LeaseKeeper.HoldsWithout(A(1), MemberStatus.Down, voters, new Dictionary<Address, long> { [A(2)] = 1400 }, A(3), Lease, now));
        Assert.False(LeaseKeeper.HoldsWithout(A(1), MemberStatus.Joining, voters, new Dictionary<Address, long> { [A(2)] = 1400 }, A(3), Lease, now));
    }

    [Fact]
    public async Task A_renewed_address_termination_ends_a_watch_of_an_actor_there()
    {
        // Akka's AddressTerminated, reached by reflection: a watcher of a live actor at that address is told Terminated.
        Assert.True(AddressTerminatedPublisher.Available, AddressTerminatedPublisher.Found);
        const string Config = "akka.actor.provider = remote\nakka.remote.dot-netty.tcp.port = 0\nakka.remote.dot-netty.tcp.hostname = 127.0.0.1";
        using var system = ActorSystem.Create("renotify", Config);
        using var other = ActorSystem.Create("elsewhere", Config);
        other.ActorOf(Props.Create(() => new Watcher(null, null)), "region"); // alive throughout: only the announcement can end the watch
        var address = ((ExtendedActorSystem)other).Provider.DefaultAddress;
        var remote = await system.ActorSelection(new RootActorPath(address) / "user" / "region").ResolveOne(TimeSpan.FromSeconds(10));
        var terminated = new TaskCompletionSource<Terminated>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new Watcher(remote, terminated, watched)));
        await watched.Task.WaitAsync(TimeSpan.FromSeconds(10));
        AddressTerminatedPublisher.Publish(system, address);
        var t = await terminated.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(remote, t.ActorRef);
        Assert.True(t.AddressTerminated);
    }

    private sealed class Watcher : ReceiveActor
    {
        public Watcher(IActorRef? watched, TaskCompletionSource<Terminated>? seen, TaskCompletionSource? watching = null)
        {
            if (watched is not null) Context.Watch(watched);
            watching?.TrySetResult();
            Receive<Terminated>(t => seen?.TrySetResult(t));
        }
    }
}
