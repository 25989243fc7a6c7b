using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using ActorNat.Cluster.Config;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Routing;

/// <summary>
/// The router of one node: it keeps the node's <see cref="ConfigVersion"/> (routes, rules, source-address choice)
/// up to date from the configuration entity, so that every decision on this node is made from one consistent
/// version. A changed configuration applies to connections that start after it; existing ones keep their mapping.
/// </summary>
public sealed class RouterActor : ReceiveActor, IWithTimers
{
    public const string Name = "actornat-router";
    public const string ConfigVersionCounter = "config_version";
    public const string HeldCounter = "entries_held";
    private readonly NatNodeContext _ctx;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public RouterActor(NatNodeContext ctx)
    {
        _ctx = ctx;
        Receive<ConfigState>(OnState);
        Receive<Tick>(_ => _ctx.ConfigRegion.Tell(new GetConfig(), Self));
        Receive<SubscribeAck>(_ => { });
        Receive<GetNodeStats>(_ =>
        {
            var stats = new NodeStats { Node = _ctx.NodeName, GrpcEndpoint = _ctx.GrpcEndpoint };
            foreach (var (name, value) in _ctx.Counters.All()) stats.Counters.Add(new Counter { Name = name, Value = value });
            stats.Counters.Add(new Counter { Name = ConfigVersionCounter, Value = _ctx.Config.Current.Version });
            stats.Counters.Add(new Counter { Name = HeldCounter, Value = Interlocked.Read(ref _ctx.Counters.Held) });
            Sender.Tell(stats);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(ConfigEntity.Topic, Self));
        Self.Tell(Tick.Instance);
        Context.ActorOf(FenceMonitor.Props(_ctx), "fence");
        Context.ActorOf(Limits.ClusterCountPoller.Props(_ctx), "table-count");
        Timers.StartPeriodicTimer("poll", Tick.Instance, TimeSpan.FromSeconds(2));
    }

    private void OnState(ConfigState s)
    {
        if (s.Version <= _ctx.Config.Current.Version)
        {
            _ctx.Config.MarkLoaded(); // nothing newer than what this node has (possibly: no configuration at all)
            return;
        }
        try
        {
            var snapshot = new ConfigVersion(s.Version, s.Lines.ToList());
            _ctx.Timeouts = snapshot.Engine.Timeouts;
            _ctx.Limits.Max = snapshot.Engine.Table.MaxEntries;
            _ctx.Config.Publish(snapshot);
        }
        catch (Exception e)
        {
            _log.Error(e, "configuration version {0} could not be applied on this node", s.Version);
        }
        _ctx.Config.MarkLoaded();
    }

    public static Props Props(NatNodeContext ctx) => Akka.Actor.Props.Create(() => new RouterActor(ctx));
}
