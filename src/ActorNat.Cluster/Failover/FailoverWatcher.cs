using System.Reflection;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Keeps the node's <see cref="FailoverWindow"/> in step with what this node sees of the cluster, and ends stale
/// watches of a removed member (<see cref="Renotify"/>).
/// </summary>
public sealed class FailoverWatcher : UntypedActor, IWithTimers
{
    /// <summary>After a member's removal, when its address is announced terminated again.</summary>
    public static readonly TimeSpan[] RenotifyAfter = [TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(700), TimeSpan.FromMilliseconds(1500), TimeSpan.FromSeconds(3)];

    private readonly FailoverWindow _window;
    private readonly bool _renotify;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public ITimerScheduler Timers { get; set; } = null!;

    public FailoverWatcher(FailoverWindow window, bool renotify)
    {
        _window = window;
        _renotify = renotify && AddressTerminatedPublisher.Available;
    }

    protected override void PreStart()
    {
        if (!AddressTerminatedPublisher.Available)
            Context.GetLogger().Warning("Akka's AddressTerminated was not found in this version: a watch placed on a removed member waits for the remote failure detector");
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterEvent.MemberDowned:
                _window.MemberLost();
                break;
            case ClusterEvent.MemberRemoved removed:
                _window.MemberLost();
                if (_renotify && removed.Member.Address != _cluster.SelfAddress)
                    for (int i = 0; i < RenotifyAfter.Length; i++)
                        Timers.StartSingleTimer($"renotify-{removed.Member.UniqueAddress}-{i}", new Renotify(removed.Member.UniqueAddress), RenotifyAfter[i]);
                break;
            case Renotify r:
                // Not if a new incarnation at the same address has joined meanwhile: its actors are alive.
                if (_cluster.State.Members.All(m => m.Address != r.Member.Address) && _cluster.State.Unreachable.All(m => m.Address != r.Member.Address))
                    AddressTerminatedPublisher.Publish(Context.System, r.Member.Address);
                break;
        }
    }

    /// <summary>
    /// Announces a removed member's address as terminated again, a few times in the seconds after its removal. Akka
    /// announces it once, at the removal; a watch placed after that (a shard region told a shard's home by a coordinator
    /// that had not yet processed the removal: it re-adds the dead region) is then left to the remote failure detector,
    /// which takes 10-12 s — chaos runs saw every conntrack shard of a paused node wait for it (recovery 12.2 s). Each
    /// repeat ends such watches (Terminated, as at the removal) and the region asks the coordinator again.
    /// </summary>
    private sealed record Renotify(UniqueAddress Member) : INoSerializationVerificationNeeded;

    public static Props Props(FailoverWindow window, bool renotify = true) => Akka.Actor.Props.Create(() => new FailoverWatcher(window, renotify));
}

/// <summary>
/// Publishes Akka's AddressTerminated (internal types, reached by reflection; <c>FenceLeaseTests</c> checks they exist) to
/// every actor that watches an actor at that address.
/// </summary>
public static class AddressTerminatedPublisher
{
    private static readonly Type? Topic = typeof(ActorSystem).Assembly.GetType("Akka.Event.AddressTerminatedTopic");
    private static readonly MethodInfo? Get = Topic?.GetMethod("Get", BindingFlags.Public | BindingFlags.Static, [typeof(ActorSystem)]);
    private static readonly MethodInfo? PublishMethod = Topic?.GetMethod("Publish", BindingFlags.Public | BindingFlags.Instance);
    private static readonly ConstructorInfo? Message = typeof(ActorSystem).Assembly.GetType("Akka.Actor.AddressTerminated")
        ?.GetConstructor(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, [typeof(Address)]);

    public static bool Available => Get is not null && PublishMethod is not null && Message is not null;

    /// <summary>What was found, for the test that checks this Akka still has them.</summary>
    public static string Found => $"topic {Topic?.FullName ?? "-"}, Get {Get is not null}, Publish {PublishMethod is not null}, message {Message is not null}";

    public static void Publish(ActorSystem system, Address address)
    {
        if (!Available) return;
        var topic = Get!.Invoke(null, [system]);
        PublishMethod!.Invoke(topic, [Message!.Invoke([address])]);
    }
}
