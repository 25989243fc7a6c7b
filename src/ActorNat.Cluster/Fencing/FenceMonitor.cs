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
    private readonly Dictionary<Address, MemberStatus> _members = [];
    private readonly HashSet<Address> _unreachable = [];

    public FenceMonitor(NatNodeContext ctx)
    {
        _ctx = ctx;
        // Judged from the events themselves, not from Cluster.State: that read view is updated by an actor of its own
        // and may not show yet the unreachability this event reports (a chaos run saw a cut-off node fence itself only
        // at the next event, 1.2 s later, after the majority had already started one of its entities).
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            _members.Clear();
            foreach (var m in s.Members) _members[m.Address] = m.Status;
            _unreachable.Clear();
            _unreachable.UnionWith(s.Unreachable.Select(m => m.Address));
            Judge();
        });
        Receive<ClusterEvent.UnreachableMember>(e => { _unreachable.Add(e.Member.Address); Judge(); });
        Receive<ClusterEvent.ReachableMember>(e => { _unreachable.Remove(e.Member.Address); Judge(); });
        Receive<ClusterEvent.MemberRemoved>(e => { _members.Remove(e.Member.Address); _unreachable.Remove(e.Member.Address); Judge(); });
        Receive<ClusterEvent.IMemberEvent>(e => { _members[e.Member.Address] = e.Member.Status; Judge(); });
        Receive<ClusterEvent.IClusterDomainEvent>(_ => Judge());
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
        var lease = _ctx.Timing.Lease;
        _ctx.Fence.SoftFenceChanged += (up, _, why) =>
        {
            if (why != "lease") return;
            if (up) log.Warning("fenced: no answer from a majority of the cluster to pings sent within the lease ({0:0} ms); no journal write and no answer until one comes", lease.TotalMilliseconds);
            else log.Info("lease renewed: a majority answered");
        };
        _ctx.Fence.Start();
        var fence = _ctx.Fence;
        Context.System.WhenTerminated.ContinueWith(_ => fence.Dispose(), TaskScheduler.Default);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Judge()
    {
        var selfAddress = _cluster.SelfAddress;
        MemberStatus? selfStatus = _members.TryGetValue(selfAddress, out var st) ? st : null;
        if (selfStatus == MemberStatus.Down) _downed = true;
        if (_downed)
        {
            // Downed (by the others, or by keep-majority on this side): fenced for good, the node is leaving.
            if (!_ctx.Fence.InMinority) _log.Warning("fenced: this node has been downed");
            _ctx.Fence.SetMinority(true);
            return;
        }
        var members = _members.Where(m => m.Value is MemberStatus.Up or MemberStatus.Leaving).Select(m => m.Key).ToList();
        // Alone: no other member, joining or up, that could take this node's shards over.
        _ctx.Fence.SetAlone(!_members.Any(m => m.Key != selfAddress && m.Value is not (MemberStatus.Down or MemberStatus.Removed)));
        if (selfStatus is not (MemberStatus.Up or MemberStatus.Leaving))
        {
            _ctx.Fence.SetMinority(false); // joining, or leaving gracefully after its hand-off: it holds no shard
            return;
        }
        var reachable = members.Where(m => !_unreachable.Contains(m)).ToList();
        bool minority = IsMinority(members, reachable);
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
