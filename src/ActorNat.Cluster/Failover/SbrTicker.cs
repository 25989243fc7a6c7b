using Akka.Actor;
using Akka.Event;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Lets the split brain resolver decide when stable-after has passed, not up to a second later: Akka's resolver
/// checks its deadline on a tick of its own that is fixed at 1 s (SplitBrainResolverBase.TickInterval, not
/// configurable; the resolver class is internal, so it cannot be derived from). Chaos runs measured 1.0-1.35 s from
/// unreachable to downed with stable-after 0.75 s. This actor sends the resolver that same tick message every
/// <see cref="Every"/>; the resolver's decision is unchanged (it acts only once the unreachable set has been stable
/// for stable-after), only when it looks. If a future Akka renames the tick, nothing is sent and a warning says so
/// (<c>FenceLeaseTests</c> fails first).
/// </summary>
public sealed class SbrTicker : UntypedActor, IWithTimers
{
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(100);
    private const string ResolverPath = "/system/cluster/core/daemon/downingProvider";
    private readonly object? _tick = ResolverTick();
    private ActorSelection? _resolver;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The resolver's own tick message, or null if this Akka has none by that name.</summary>
    public static object? ResolverTick() =>
        AkkaInternals.Instance(typeof(Akka.Cluster.SBR.SplitBrainResolverProvider), "Akka.Cluster.SBR.SplitBrainResolverBase+Tick");

    protected override void PreStart()
    {
        if (_tick is null)
        {
            Context.GetLogger().Warning("the split brain resolver's tick was not found in this Akka version: downing waits for its own 1 s tick");
            return;
        }
        _resolver = Context.ActorSelection(ResolverPath);
        Timers.StartPeriodicTimer("tick", Messages.Tick.Instance, Every);
    }

    protected override void OnReceive(object message)
    {
        if (message is Messages.Tick) _resolver?.Tell(_tick, ActorRefs.NoSender);
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new SbrTicker()).WithDispatcher("akka.actor.internal-dispatcher");
}
