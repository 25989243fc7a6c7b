using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Lets a shard coordinator that has just moved to this node answer as soon as its state is loaded, not a fixed 0.5 s
/// later. Akka's coordinator, once it has read its state and watched the regions in it, schedules itself
/// <c>StateInitialized</c> after 500 ms (not configurable; "let the quick Terminated messages be processed first", an
/// optimization): every lost shard's new home waits for it whenever the lost node ran the coordinator (it runs on the
/// oldest node: one failover in three). The regions of a member that is no longer in the cluster are handled at once,
/// before that wait, and a coordinator starts only after the lost member's removal, so the wait buys nothing here.
/// After a member's removal, the oldest node sends its coordinators that message every <see cref="Every"/> for
/// <see cref="For"/>: one still loading its state drops it (unhandled), one waiting for it goes active, one in the
/// middle of a state write stashes it until the write is done, an active one ignores it. Which shard goes where, and
/// the write of each allocation before it is announced, are unchanged. If a future Akka renames the message, nothing
/// is sent and a warning says so (<c>FenceLeaseTests</c> fails first).
/// </summary>
public sealed class CoordinatorKick : UntypedActor, IWithTimers
{
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan For = TimeSpan.FromSeconds(3);
    private readonly string[] _typeNames;
    private readonly object? _message = StateInitialized();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private DateTime _until;

    public ITimerScheduler Timers { get; set; } = null!;

    public CoordinatorKick(string[] typeNames) => _typeNames = typeNames;

    /// <summary>Akka's coordinator message, or null if this Akka has none by that name.</summary>
    public static object? StateInitialized() =>
        AkkaInternals.Instance(typeof(Akka.Cluster.Sharding.ClusterSharding), "Akka.Cluster.Sharding.ShardCoordinator+StateInitialized");

    protected override void PreStart()
    {
        if (_message is null)
        {
            Context.GetLogger().Warning("the shard coordinator's StateInitialized was not found in this Akka version: a moved coordinator answers after its own 0.5 s");
            return;
        }
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterEvent.MemberRemoved:
                _until = DateTime.UtcNow + For;
                Timers.StartPeriodicTimer("kick", Messages.Tick.Instance, Every);
                break;
            case Messages.Tick when DateTime.UtcNow > _until:
                Timers.Cancel("kick");
                break;
            case Messages.Tick when IsOldest():
                foreach (var type in _typeNames)
                    Context.ActorSelection($"/system/sharding/{Uri.EscapeDataString(type)}Coordinator/singleton/coordinator").Tell(_message, ActorRefs.NoSender);
                break;
        }
    }

    /// <summary>The coordinators live on the oldest member of the role (where the singleton runs).</summary>
    private bool IsOldest()
    {
        var state = _cluster.State;
        var oldest = state.Members.Where(m => m.HasRole(Hosting.ActorNatHosting.Role) && m.Status is MemberStatus.Up or MemberStatus.Leaving)
            .OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        return oldest is not null && oldest.UniqueAddress == _cluster.SelfUniqueAddress;
    }

    public static Props Props(params string[] typeNames) =>
        Akka.Actor.Props.Create(() => new CoordinatorKick(typeNames)).WithDispatcher("akka.actor.internal-dispatcher");
}
