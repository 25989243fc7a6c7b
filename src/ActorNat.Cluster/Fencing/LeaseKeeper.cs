using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// Keeps this node's lease (<see cref="NodeFence.SetLease"/>): every <see cref="FailoverTiming.PingEvery"/> it pings
/// every other member's lease keeper and notes, per member, when the newest answered ping was <i>sent</i>. A keeper
/// answers only a member it holds to be in the cluster and reachable (no Down, no observer's unreachable record in its
/// gossip): a node being downed, or healed back after its removal, gets no answers and so no lease. The node may act until the moment a majority (as keep-majority counts it,
/// this node included) stops being covered: the send time of the answer that completes the majority plus the lease.
/// Counting from the send time, not the answer, keeps the bound honest however long the answer took or waited in a
/// frozen process. A node alone, or not yet Up (it holds no shard), needs no lease. Pings and answers are plain
/// numbers (Akka's primitive serializer): a ping is the positive sequence number, its answer the same number negated.
/// </summary>
public sealed class LeaseKeeper : ReceiveActor, IWithTimers
{
    public const string Name = "actornat-lease";
    private readonly NodeFence _fence;
    private readonly long _leaseTicks;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<Address, MemberStatus> _members = [];
    private readonly HashSet<Address> _unreachable = [];
    /// <summary>
    /// Who counts towards a majority: every member once Up, until its removal is seen while this node holds its lease.
    /// A removal seen without the lease may be this side's own wrong decision (a cut-off node's resolver, whose
    /// detector saw one peer unreachable before the other, downs and removes the majority and is then "alone"): such a
    /// member still counts, until a majority of the larger set answers again.
    /// </summary>
    private readonly HashSet<Address> _voters = [];
    private readonly HashSet<Address> _removedUnleased = [];
    private readonly Dictionary<Address, long> _answeredSentAt = []; // Stopwatch ticks
    private readonly Dictionary<long, (Address To, long SentAt)> _pending = [];
    private long _seq;

    public LeaseKeeper(NodeFence fence, TimeSpan lease)
    {
        _fence = fence;
        _leaseTicks = (long)(lease.TotalSeconds * Stopwatch.Frequency);
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            _members.Clear();
            foreach (var m in s.Members) _members[m.Address] = m.Status;
            foreach (var m in s.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting or MemberStatus.Down))
                _voters.Add(m.Address);
            _unreachable.Clear();
            _unreachable.UnionWith(s.Unreachable.Select(m => m.Address));
            Judge();
        });
        Receive<ClusterEvent.UnreachableMember>(e => _unreachable.Add(e.Member.Address));
        Receive<ClusterEvent.ReachableMember>(e => _unreachable.Remove(e.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            var a = e.Member.Address;
            _members.Remove(a);
            _unreachable.Remove(a);
            if (_voters.Contains(a) && Until() <= Stopwatch.GetTimestamp()) _removedUnleased.Add(a); // still counts (and answers nothing)
            else _voters.Remove(a);
            _answeredSentAt.Remove(a);
            Judge();
        });
        Receive<ClusterEvent.MemberUp>(e =>
        {
            _members[e.Member.Address] = e.Member.Status;
            _voters.Add(e.Member.Address);
            _removedUnleased.Remove(e.Member.Address);
            Judge();
        });
        Receive<ClusterEvent.IMemberEvent>(e => { _members[e.Member.Address] = e.Member.Status; Judge(); });
        Receive<Messages.Tick>(_ => PingAll());
        Receive<HeldWithout>(h => Sender.Tell(
            HoldsWithout(_cluster.SelfAddress, _members.TryGetValue(_cluster.SelfAddress, out var st) ? st : null, _voters, _answeredSentAt, h.Member, _leaseTicks, Stopwatch.GetTimestamp())));
        Receive<long>(n => { if (n > 0) OnPing(n); else OnAnswer(-n); });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("ping", Messages.Tick.Instance, FailoverTiming.PingEvery);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void PingAll()
    {
        long now = Stopwatch.GetTimestamp();
        // Answers older than the lease can no longer help: forget pings that were never answered.
        foreach (var (id, p) in _pending.Where(p => now - p.Value.SentAt > _leaseTicks).ToList()) _pending.Remove(id);
        var self = _cluster.SelfAddress;
        foreach (var (address, status) in _members)
        {
            // Joining members too: their answers are there when they become Up and count.
            if (address == self || status is MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting) continue;
            long id = ++_seq;
            _pending[id] = (address, now);
            Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(id, Self);
        }
        Judge(); // the lease lapses by the clock as well; the fence's own watch reports that
    }

    /// <summary>Answers a peer's ping while it is a member this node holds to be in the cluster and reachable.</summary>
    private void OnPing(long id)
    {
        var from = Sender.Path.Address;
        if (_members.TryGetValue(from, out var status) && status is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting)
            && !_unreachable.Contains(from))
            Sender.Tell(-id, Self);
    }

    private void OnAnswer(long id)
    {
        if (!_pending.Remove(id, out var p)) return;
        if (!_answeredSentAt.TryGetValue(p.To, out var before) || before < p.SentAt) _answeredSentAt[p.To] = p.SentAt;
        Judge();
    }

    private long Until() =>
        LeaseUntil(_cluster.SelfAddress, _members.TryGetValue(_cluster.SelfAddress, out var s) ? s : null, _voters, _answeredSentAt, _leaseTicks);

    private void Judge()
    {
        long until = Until();
        // Held again with the members removed meanwhile still counted: a majority of them agrees, they may go.
        if (_removedUnleased.Count > 0 && until > Stopwatch.GetTimestamp())
        {
            _voters.ExceptWith(_removedUnleased);
            _removedUnleased.Clear();
            until = Until();
        }
        _fence.SetLease(until);
    }

    /// <summary>
    /// Until when (Stopwatch ticks) the voters that answered keep this node on the majority side: long.MaxValue when no
    /// lease is needed (this node is joining, exiting, or the only voter), 0 when no majority ever answered or this node
    /// was downed (its lease must not lift while the fence monitor has yet to see the downing).
    /// </summary>
    public static long LeaseUntil(Address self, MemberStatus? selfStatus, IReadOnlyCollection<Address> voters,
        IReadOnlyDictionary<Address, long> answeredSentAt, long leaseTicks)
    {
        if (selfStatus is MemberStatus.Down or MemberStatus.Removed) return 0; // downed: never again (not "no lease needed")
        if (selfStatus is not (MemberStatus.Up or MemberStatus.Leaving)) return long.MaxValue;
        var all = voters.Append(self).Distinct().ToList();
        if (all.Count <= 1) return long.MaxValue;
        var covered = new List<Address> { self };
        if (!FenceMonitor.IsMinority(all, covered)) return long.MaxValue; // of two, the lowest address holds alone
        foreach (var (peer, sentAt) in all.Where(v => v != self && answeredSentAt.ContainsKey(v))
                     .Select(v => (v, answeredSentAt[v])).OrderByDescending(x => x.Item2))
        {
            covered.Add(peer);
            if (!FenceMonitor.IsMinority(all, covered)) return sentAt + leaseTicks;
        }
        return 0;
    }

    /// <summary>
    /// Asks whether this node holds its lease on the answers of the members other than <see cref="Member"/> alone
    /// (answer: bool). <see cref="Failover.GoneMemberDowner"/> downs a member found gone only then, so a node cut off
    /// from the majority never downs anyone by that path.
    /// </summary>
    public sealed record HeldWithout(Address Member) : INoSerializationVerificationNeeded;

    /// <summary>
    /// Whether this node holds its lease now without <paramref name="member"/>'s answers (it still counts as a voter,
    /// one that did not answer): the rest of the voters that answered keep this node on the majority side.
    /// </summary>
    public static bool HoldsWithout(Address self, MemberStatus? selfStatus, IReadOnlyCollection<Address> voters,
        IReadOnlyDictionary<Address, long> answeredSentAt, Address member, long leaseTicks, long now)
    {
        if (selfStatus is not (MemberStatus.Up or MemberStatus.Leaving)) return false;
        var others = answeredSentAt.Where(a => a.Key != member).ToDictionary(a => a.Key, a => a.Value);
        return LeaseUntil(self, selfStatus, voters.Append(member).Distinct().ToList(), others, leaseTicks) > now;
    }

    public static Props Props(NodeFence fence, TimeSpan lease) =>
        Akka.Actor.Props.Create(() => new LeaseKeeper(fence, lease)).WithDispatcher("akka.actor.internal-dispatcher");
}
