using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// Keeps the node's <see cref="NodeFence"/> in step with the cluster: on the minority side of the reachable members
/// (as keep-majority judges it: fewer than half, or exactly half without the lowest address) the node is fenced until
/// reachability returns or it is downed. A tripped pause fence shuts the node down: it may have been replaced.
/// </summary>
public sealed class FenceMonitor : ReceiveActor
{
    private readonly NatNodeContext _ctx;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _downed;

    public FenceMonitor(NatNodeContext ctx)
    {
        _ctx = ctx;
        Receive<ClusterEvent.IClusterDomainEvent>(_ => Judge());
        Receive<ClusterEvent.CurrentClusterState>(_ => Judge());
        Receive<PauseTripped>(OnTripped);
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        var self = Self;
        _ctx.Fence.Tripped += (pause, since) => self.Tell(new PauseTripped(pause, since));
        var log = _log;
        _ctx.Fence.Stalled += (gap, why) => log.Warning("this node stood still for {0:0.0} s (limit {1:0.0} s), not taken for a pause: {2}",
            gap.TotalSeconds, _ctx.Fence.PauseLimit.TotalSeconds, why);
        _ctx.Fence.Start();
        var fence = _ctx.Fence;
        Context.System.WhenTerminated.ContinueWith(_ => fence.Dispose(), TaskScheduler.Default);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Judge()
    {
        var state = _cluster.State;
        var self = state.Members.FirstOrDefault(m => m.Address == _cluster.SelfAddress);
        if (self?.Status == MemberStatus.Down) _downed = true;
        if (_downed)
        {
            // Downed (by the others, or by keep-majority on this side): fenced for good, the node is leaving.
            if (!_ctx.Fence.InMinority) _log.Warning("fenced: this node has been downed");
            _ctx.Fence.SetMinority(true);
            return;
        }
        var members = state.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving).ToList();
        // Alone: no other member, joining or up, that could take this node's shards over.
        _ctx.Fence.SetAlone(!state.Members.Any(m => m.Address != _cluster.SelfAddress && m.Status is not (MemberStatus.Down or MemberStatus.Removed)));
        if (self is null || !members.Contains(self))
        {
            _ctx.Fence.SetMinority(false); // joining, or leaving gracefully after its hand-off: it holds no shard
            return;
        }
        var reachable = members.Where(m => !state.Unreachable.Contains(m)).Select(m => m.Address).ToList();
        bool minority = IsMinority(members.Select(m => m.Address).ToList(), reachable);
        if (minority != _ctx.Fence.InMinority)
        {
            if (minority) _log.Warning("fenced: {0} of {1} members reachable from here; no journal write and no answer until the majority is back", reachable.Count, members.Count);
            else _log.Info("fence lifted: {0} of {1} members reachable", reachable.Count, members.Count);
        }
        _ctx.Fence.SetMinority(minority);
    }

    /// <summary>
    /// Keep-majority's judgement of the side that holds <paramref name="reachable"/>: it goes if it has fewer than half
    /// of the members, or exactly half without the member of the lowest address.
    /// </summary>
    public static bool IsMinority(IReadOnlyList<Address> members, IReadOnlyCollection<Address> reachable)
    {
        if (members.Count == 0) return false;
        var lowest = members.Min(Member.AddressOrdering)!;
        return reachable.Count * 2 < members.Count || (reachable.Count * 2 == members.Count && !reachable.Contains(lowest));
    }

    private void OnTripped(PauseTripped t)
    {
        _log.Error("this node stood still for {0:0.0} s (limit {1:0.0} s): the cluster may have replaced it; fenced, shutting down",
            t.Pause.TotalSeconds, _ctx.Fence.PauseLimit.TotalSeconds);
        CoordinatedShutdown.Get(Context.System).Run(new PauseFencedReason());
    }

    private sealed record PauseTripped(TimeSpan Pause, long SinceUnixMs);

    /// <summary>Why the node shut itself down.</summary>
    public sealed class PauseFencedReason : CoordinatedShutdown.Reason
    {
        public override int ExitCode => 75; // EX_TEMPFAIL: restart me
    }

    public static Props Props(NatNodeContext ctx) => Akka.Actor.Props.Create(() => new FenceMonitor(ctx));
}
