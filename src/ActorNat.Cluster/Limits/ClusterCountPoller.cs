using Akka.Actor;
using Akka.Cluster;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Routing;

namespace ActorNat.Cluster.Limits;

/// <summary>
/// Asks every other Up member's router for its entries held (the same <see cref="GetNodeStats"/> cluster status uses)
/// every <see cref="Interval"/> and keeps their sum in <see cref="TableLimit.Others"/>. A member that does not answer
/// in time keeps its last count until it leaves the cluster (its pools move, and their new homes count them).
/// </summary>
public sealed class ClusterCountPoller : ReceiveActor, IWithTimers
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly NatNodeContext _ctx;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<string, long> _held = [];

    public ClusterCountPoller(NatNodeContext ctx)
    {
        _ctx = ctx;
        Receive<Tick>(_ => Poll());
        Receive<NodeStats>(s =>
        {
            if (s.Node == _ctx.NodeName) return;
            _held[s.Node] = s.Counters.FirstOrDefault(c => c.Name == RouterActor.HeldCounter)?.Value ?? 0;
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartPeriodicTimer("poll", Tick.Instance, Interval);

    private void Poll()
    {
        var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.Address != _cluster.SelfAddress).Select(m => m.Address).ToList();
        var names = up.Select(a => a.HostPort()).ToHashSet();
        foreach (var gone in _held.Keys.Where(n => !names.Contains(n)).ToList()) _held.Remove(gone);
        _ctx.Limits.Others = _held.Values.Sum();
        _ctx.Limits.Members = up.Count + 1;
        foreach (var a in up) Context.ActorSelection($"{a}/user/{RouterActor.Name}").Tell(new GetNodeStats(), Self);
    }

    public static Props Props(NatNodeContext ctx) => Akka.Actor.Props.Create(() => new ClusterCountPoller(ctx));
}
