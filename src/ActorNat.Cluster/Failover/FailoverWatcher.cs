using Akka.Actor;
using Akka.Cluster;

namespace ActorNat.Cluster.Failover;

/// <summary>Keeps the node's <see cref="FailoverWindow"/> in step with what this node sees of the cluster.</summary>
public sealed class FailoverWatcher : UntypedActor
{
    private readonly FailoverWindow _window;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public FailoverWatcher(FailoverWindow window) => _window = window;

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        if (message is ClusterEvent.MemberDowned or ClusterEvent.MemberRemoved) _window.MemberLost();
    }

    public static Props Props(FailoverWindow window) => Akka.Actor.Props.Create(() => new FailoverWatcher(window));
}
