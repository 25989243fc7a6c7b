using Akka.Actor;
using Akka.Cluster;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Ingress;

/// <summary>
/// The face of a node's <see cref="FlowCache"/> to the entities (one per node, at <c>/user/flow-cache</c>): sends each
/// copy's refreshes to its entity every <see cref="FlushEvery"/> (one message per entry with packets since the last
/// one), takes the entities' renewals and revocations, and drops the copies of entities on a node that becomes
/// unreachable or leaves (their new incarnations know nothing of these leases).
/// </summary>
public sealed class FlowCacheActor : UntypedActor, IWithTimers
{
    public const string Name = "flow-cache";

    /// <summary>
    /// How often refreshes reach the entity. The entity tells the pool when the expiry moved by more than a second, so
    /// a listing's timeout is at most this plus a second behind the packets (the oracle compares within 15 s).
    /// </summary>
    public static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(250);

    private readonly NatNodeContext _ctx;

    public FlowCacheActor(NatNodeContext ctx) => _ctx = ctx;

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("flush", Tick.Instance, FlushEvery);
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember), typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        var cache = _ctx.FlowCache;
        switch (message)
        {
            case Tick:
                foreach (var (lease, state) in cache.TakeRefreshes(_ctx.Clock.NowMs))
                    lease.Owner.Tell(new LeaseRefresh { Original = lease.Original.ToMsg(), ConntrackId = lease.Id, Epoch = lease.Epoch, State = state.ToMsg() });
                break;
            case LeaseRenewed m:
                cache.Renewed(m);
                break;
            case LeaseRevoke m:
            {
                var pending = cache.Revoke(m.Original.ToCore(), m.ConntrackId, m.Epoch, _ctx.Clock.NowMs);
                var answer = new LeaseRevoked { Original = m.Original, ConntrackId = m.ConntrackId, Epoch = m.Epoch };
                if (pending is { } p) answer.State = p.ToMsg();
                Sender.Tell(answer);
                break;
            }
            case DropLeases:
                Sender.Tell(new LeasesDropped { Count = cache.DropAll() });
                break;
            case ClusterEvent.UnreachableMember u:
                cache.Reachable(u.Member.Address, false);
                break;
            case ClusterEvent.ReachableMember u:
                cache.Reachable(u.Member.Address, true);
                break;
            case ClusterEvent.MemberUp u: // a node back on the same address
                cache.Reachable(u.Member.Address, true);
                break;
            case ClusterEvent.MemberRemoved r:
                cache.Reachable(r.Member.Address, false);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    public static Props Props(NatNodeContext ctx) => FactoryProducer<FlowCacheActor>.Props(() => new FlowCacheActor(ctx));
}
