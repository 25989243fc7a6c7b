using Akka.Actor;
using Akka.Cluster;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// Writes what this node sees of the other members into the activation log (opt-in, `--activation-log`): when a member
/// became unreachable, reachable again, was downed and removed. With the entity starts and pool recoveries already
/// there, `actornat chaos` reads each failover's phases from these lines, to the millisecond and without asking a node.
/// </summary>
public sealed class ClusterEventLog : UntypedActor
{
    private readonly ActivationLog _log;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly string _self;

    public ClusterEventLog(ActivationLog log)
    {
        _log = log;
        _self = _cluster.SelfAddress.HostPort();
    }

    protected override void PreStart()
    {
        _log.Event(_self, "self", _self);
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterEvent.UnreachableMember u: _log.Event(_self, "unreachable", u.Member.Address.HostPort()); break;
            case ClusterEvent.ReachableMember r: _log.Event(_self, "reachable", r.Member.Address.HostPort()); break;
            case ClusterEvent.MemberDowned d: _log.Event(_self, "downed", d.Member.Address.HostPort()); break;
            case ClusterEvent.MemberRemoved m: _log.Event(_self, "removed", m.Member.Address.HostPort()); break;
        }
    }

    public static Props Props(ActivationLog log) => Akka.Actor.Props.Create(() => new ClusterEventLog(log));
}
