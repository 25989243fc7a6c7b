using Akka.Actor;
using Akka.Cluster;

namespace ActorNat.Node.Dashboard;

/// <summary>One change of cluster membership as the dashboard lists it (newest first).</summary>
public sealed record MembershipEvent(long T, string Address, string Event);

/// <summary>
/// The last membership changes this node saw (member up, unreachable, reachable again, leaving, removed), from
/// Akka's cluster events. A node that dies is unreachable for only a second or two before the split-brain resolver
/// downs and removes it: between two polls of the dashboard, so the page lists the changes as well as the members.
/// </summary>
public sealed class MembershipEvents(IServiceProvider services) : IHostedService
{
    public const int Keep = 50;
    private readonly LinkedList<MembershipEvent> _events = new();
    private IActorRef? _listener;

    public IReadOnlyList<MembershipEvent> Recent()
    {
        lock (_events) return [.. _events];
    }

    private void Add(string address, string what)
    {
        lock (_events)
        {
            _events.AddFirst(new MembershipEvent(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), address, what));
            while (_events.Count > Keep) _events.RemoveLast();
        }
    }

    public Task StartAsync(CancellationToken ct)
    {
        if (services.GetService<ActorSystem>() is { } system && system.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal))
            _listener = system.ActorOf(Props.Create(() => new Listener(this)), "dashboard-membership");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct)
    {
        _listener?.Tell(PoisonPill.Instance);
        return Task.CompletedTask;
    }

    /// <summary>Akka's member and reachability events, with the current state first as events.</summary>
    private sealed class Listener : ReceiveActor
    {
        public Listener(MembershipEvents log)
        {
            Receive<ClusterEvent.MemberUp>(e => log.Add(e.Member.Address.HostPort(), "up"));
            Receive<ClusterEvent.MemberJoined>(e => log.Add(e.Member.Address.HostPort(), "joining"));
            Receive<ClusterEvent.MemberLeft>(e => log.Add(e.Member.Address.HostPort(), "leaving"));
            Receive<ClusterEvent.MemberExited>(e => log.Add(e.Member.Address.HostPort(), "exiting"));
            Receive<ClusterEvent.MemberDowned>(e => log.Add(e.Member.Address.HostPort(), "downed"));
            Receive<ClusterEvent.MemberRemoved>(e => log.Add(e.Member.Address.HostPort(), "removed"));
            Receive<ClusterEvent.UnreachableMember>(e => log.Add(e.Member.Address.HostPort(), "unreachable"));
            Receive<ClusterEvent.ReachableMember>(e => log.Add(e.Member.Address.HostPort(), "reachable again"));
            ReceiveAny(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

        protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
