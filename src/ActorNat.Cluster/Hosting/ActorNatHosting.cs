using Akka.Actor;
using Akka.Event;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using ActorNat.Cluster.Config;
using ActorNat.Cluster.Conntrack;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Journal;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Pool;
using ActorNat.Cluster.Routing;
using ActorNat.Cluster.Serialization;
using SqlJournalOptions = Akka.Persistence.Sql.Hosting.SqlJournalOptions;
using SqlSnapshotOptions = Akka.Persistence.Sql.Hosting.SqlSnapshotOptions;

namespace ActorNat.Cluster.Hosting;

public sealed class ConntrackRegionKey;
public sealed class PoolRegionKey;
public sealed class SourceRegionKey;
public sealed class ConfigRegionKey;
public sealed class RouterKey;

/// <summary>
/// ActorNat's actor system, wired with Akka.Hosting builders only: protobuf serialization, the journal (memory, SQLite
/// or PostgreSQL, sharding's own tables), remoting, the cluster with keep-majority split brain resolution and a tuned
/// failure detector, the four shard regions and the router.
/// </summary>
public static class ActorNatHosting
{
    public const string Role = "nat";

    /// <param name="joinByBootstrap">
    /// The cluster is formed by Akka.Management's cluster bootstrap (the host adds it): without seeds this node then
    /// waits for bootstrap instead of founding a cluster of its own.
    /// </param>
    public static AkkaConfigurationBuilder WithActorNat(this AkkaConfigurationBuilder b, NatNodeContext ctx, bool joinByBootstrap = false)
    {
        var o = ctx.Options;
        b.ConfigureLoggers(l => l.LogLevel = o.LogLevel);
        // Bound by concrete type as well as by marker: the generated classes are also Google.Protobuf.IMessage, which
        // Akka binds to its own protobuf serializer (assembly-qualified manifests); the concrete binding wins.
        b.WithCustomSerializer("actornat", ClusterSerializer.Types.Append(typeof(IClusterMessage)).ToArray(), sys => new ClusterSerializer(sys));
        if (o.StrictSerialization) b.WithStrictSerialization();
        if (o.SerializeMessages)
            b.AddHocon("akka.actor.serialize-messages = on\nakka.actor.serialize-creators = off", HoconAddMode.Prepend);

        var db = Database.Parse(o.Database, abortFrozenWritesAfter: ctx.Fence.PauseLimit);
        var shardOptions = new ShardOptions
        {
            Role = Role,
            StateStoreMode = StateStoreMode.DData,
            RememberEntitiesStore = RememberEntitiesStore.Eventsourced,
            HandOffStopMessage = StopEntity.Instance,
        };
        if (db.Kind == "memory")
        {
            b.WithInMemoryJournal().WithInMemorySnapshotStore();
            shardOptions.JournalPluginId = "akka.persistence.journal.inmem";
            shardOptions.SnapshotPluginId = "akka.persistence.snapshot-store.inmem";
            if (o.Journal == "actornat") b.AddHocon(JournalPlugins.InMemory(), HoconAddMode.Prepend);
        }
        else
        {
            db.Prepare();
            b.AddHocon(OutageRecovery.Hocon, HoconAddMode.Prepend); // serve again within seconds of the database's return
            b.WithSqlPersistence(db.ConnectionString, db.ProviderName, PersistenceMode.Both, autoInitialize: true);
            // Group commit: the journal writes what many entities persisted in one batch per round trip.
            b.AddHocon("""
                akka.persistence.journal.sql.batch-size = 200
                akka.persistence.journal.sql.parallelism = 4
                akka.persistence.journal.sql.buffer-size = 20000
                """, HoconAddMode.Prepend);
            // Sharding's remember-entities journal lives in its own tables.
            var shardJournal = new SqlJournalOptions(isDefaultPlugin: false, identifier: "sharding")
            {
                ConnectionString = db.ConnectionString, ProviderName = db.ProviderName, AutoInitialize = true,
                DatabaseOptions = new JournalDatabaseOptions(DatabaseMapping.Default)
                {
                    JournalTable = new JournalTableOptions { TableName = "sharding_journal" },
                    MetadataTable = new MetadataTableOptions { TableName = "sharding_metadata" },
                    TagTable = new TagTableOptions { TableName = "sharding_tags" },
                },
            };
            var shardSnapshots = new SqlSnapshotOptions(isDefaultPlugin: false, identifier: "sharding")
            {
                ConnectionString = db.ConnectionString, ProviderName = db.ProviderName, AutoInitialize = true,
                DatabaseOptions = new SnapshotDatabaseOptions(DatabaseMapping.Default)
                {
                    SnapshotTable = new SnapshotTableOptions { TableName = "sharding_snapshot" },
                },
            };
            b.WithSqlPersistence(journalOptions: shardJournal, snapshotOptions: shardSnapshots);
            shardOptions.JournalPluginId = shardJournal.PluginId;
            shardOptions.SnapshotPluginId = shardSnapshots.PluginId;
            // Both journals are the SQL journal timed per write (JournalMeter); after the plugins' own configuration so this wins.
            var metered = $"{typeof(MeteredSqlJournal).FullName}, {typeof(MeteredSqlJournal).Assembly.GetName().Name}";
            b.AddHocon($$"""
                akka.persistence.journal.sql.class = "{{metered}}"
                akka.persistence.journal.sql.replay-filter.mode = off
                {{shardJournal.PluginId}}.replay-filter.mode = off
                akka.persistence.journal.sql.{{MeteredSqlJournal.MeterNameKey}} = events
                {{shardJournal.PluginId}}.class = "{{metered}}"
                {{shardJournal.PluginId}}.{{MeteredSqlJournal.MeterNameKey}} = sharding
                """, HoconAddMode.Prepend);
            // ActorNat's group-commit journal over the same tables (the default; "akka" keeps the SQL journal above).
            if (o.Journal == "actornat") b.AddHocon(JournalPlugins.GroupCommit(db, shardJournal.PluginId), HoconAddMode.Prepend);
        }

        b.WithRemoting(RemotingTls.Options(new RemoteOptions { HostName = o.Host, Port = o.Port, PublicHostName = o.PublicHost }, o));
        b.WithClustering(new ClusterOptions
        {
            SeedNodes = o.Seeds.ToArray(),
            Roles = [Role],
            SplitBrainResolver = new KeepMajorityOption { Role = Role },
            FailureDetector = new PhiAccrualFailureDetectorOptions
            {
                HeartbeatInterval = o.HeartbeatInterval,
                AcceptableHeartbeatPause = o.AcceptableHeartbeatPause,
                UnreachableNodesReaperInterval = o.GossipInterval,
            },
        });
        // No builder exists for these: failover time is detection + stable-after + removal margin. The margin is short
        // (0 would mean stable-after to Akka: the singleton and the coordinator then waited 0.75 s after each removal):
        // the lease (Fencing/FailoverTiming) keeps a removed node from acting, not the margin. A remembered pool that stopped on a journal
        // conflict comes back after 1 s, not 10; regions retry (registration, shard homes) every 0.2 s and the coordinator
        // singleton hands over every 0.25 s, not 2: a lost node's shards get their new homes sooner. A rebalance whose
        // hand-off waits on a node that was paused or cut off meanwhile gives up after 5 s, not 60: until then the
        // coordinator holds back that shard's new home (chaos runs saw flows wait until the paused node ran again,
        // 10-62 s). A failed rebalance leaves the shard where it was; nothing is allocated twice. The
        // coordinator's state is written to a majority of 2 of 3, not (min-cap 5) to every member: with one member
        // unreachable, the default left shard allocation waiting for up to a minute in the chaos runs. A coordinator
        // state write in flight when a member stops still waits for that member (write-majority-plus makes it all of
        // 3) until it is removed: it is retried every 1 s, not 5 (a chaos pause stalled one coordinator's allocations 5 s).
        // That timeout also bounds a pool shard's load of its remembered entities from PostgreSQL; a shard that took
        // longer under load stopped and was started again only after shard-failure-backoff (10 s by default): 0.5 s.
        b.AddHocon($$"""
            akka.cluster.split-brain-resolver.stable-after = {{(int)o.StableAfter.TotalMilliseconds}}ms
            akka.cluster.down-removal-margin = {{Math.Max(1, (int)o.RemovalMargin.TotalMilliseconds)}}ms
            akka.cluster.gossip-interval = {{(int)o.GossipInterval.TotalMilliseconds}}ms
            akka.cluster.leader-actions-interval = {{(int)o.GossipInterval.TotalMilliseconds}}ms
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-absolute-limit = 10
            akka.cluster.sharding.least-shard-allocation-strategy.rebalance-relative-limit = 0.1
            akka.cluster.sharding.entity-recovery-strategy = constant
            akka.persistence.max-concurrent-recoveries = 2000
            akka.cluster.sharding.rebalance-interval = {{(int)o.RebalanceInterval.TotalMilliseconds}}ms
            akka.cluster.sharding.buffer-size = 100000
            akka.cluster.sharding.entity-restart-backoff = 1s
            akka.cluster.sharding.coordinator-failure-backoff = 1s
            akka.cluster.sharding.retry-interval = 200ms
            akka.cluster.sharding.handoff-timeout = 5s
            akka.cluster.sharding.updating-state-timeout = 1s
            akka.cluster.sharding.shard-failure-backoff = 500ms
            akka.cluster.singleton.hand-over-retry-interval = 250ms
            akka.cluster.sharding.distributed-data.majority-min-cap = 2
            akka.coordinated-shutdown.phases.cluster-sharding-shutdown-region.timeout = 15s
            akka.coordinated-shutdown.exit-clr = off
            """, HoconAddMode.Prepend);

        int shards = o.Shards;
        var conntrackExtractor = HashCodeMessageExtractor.Create(shards,
            m => m is IConntrackMessage c ? Keys.Conntrack(c.Original.ToCore()) : null!, m => m);
        var poolExtractor = HashCodeMessageExtractor.Create(shards, m => m is IPoolMessage p ? p.Pool : null!, m => m);
        var sourceExtractor = HashCodeMessageExtractor.Create(shards, m => m is ISourceMessage s ? s.Bucket : null!, m => m);
        ctx.Messenger.Homes.Use(poolExtractor, sourceExtractor);
        var configExtractor = HashCodeMessageExtractor.Create(shards, m => m is IConfigMessage ? "config" : null!, m => m);

        b.WithShardRegion<ConntrackRegionKey>("conntrack", id => ConntrackEntity.Props(ctx, id), conntrackExtractor,
            Copy(shardOptions, s => s.PassivateIdleEntityAfter = o.PassivateIdle));
        b.WithShardRegion<PoolRegionKey>("pool", id => PortPoolEntity.Props(ctx, id), poolExtractor,
            Copy(shardOptions, s => s.RememberEntities = true));
        b.WithShardRegion<SourceRegionKey>("source", _ => SourceIndexEntity.Props(ctx), sourceExtractor, Copy(shardOptions, _ => { }));
        b.WithShardRegion<ConfigRegionKey>("config", _ => ConfigEntity.Props(), configExtractor, Copy(shardOptions, _ => { }));

        b.WithActors((system, registry) =>
        {
            ctx.ConntrackRegion = registry.Get<ConntrackRegionKey>();
            ctx.PoolRegion = registry.Get<PoolRegionKey>();
            ctx.SourceRegion = registry.Get<SourceRegionKey>();
            ctx.ConfigRegion = registry.Get<ConfigRegionKey>();
            ctx.NodeName = Akka.Cluster.Cluster.Get(system).SelfAddress.HostPort();
            JournalFence.Get(system).Use(ctx.Fence);
            SqliteFileWatch.Start(system, ctx, db); // a deleted or replaced SQLite file: stop acknowledging
            // The resolver's tick and AddressTerminated are Akka's internal types, which serialize-messages (a test
            // setting) would refuse to verify.
            system.ActorOf(Failover.FailoverWatcher.Props(ctx.Failover, renotify: !o.SerializeMessages), "failover-watcher");
            system.ActorOf(LeaseKeeper.Props(ctx.Fence, ctx.Timing.Lease), LeaseKeeper.Name);
            if (!o.SerializeMessages) system.ActorOf(Failover.SbrTicker.Props(), "sbr-ticker");
            if (!o.SerializeMessages) system.ActorOf(Failover.CoordinatorKick.Props("conntrack", "pool", "source", "config"), "coordinator-kick");
            if (o.DownGoneMembers && Failover.GoneMemberDowner.WhyNot() is { } whyNot)
                system.Log.Warning("a killed member is left to the failure detector: {0}", whyNot);
            else if (o.DownGoneMembers)
                system.ActorOf(Failover.GoneMemberDowner.Props(ctx.ActivationFile), "gone-member-downer");
            system.ActorOf(Ingress.FlowCacheActor.Props(ctx), Ingress.FlowCacheActor.Name);
            if (ctx.ActivationFile is { } log) system.ActorOf(ClusterEventLog.Props(log), "cluster-event-log");
            ctx.Router = system.ActorOf(RouterActor.Props(ctx), RouterActor.Name);
            if (o.NodeEnvelopes) ctx.Messenger.Gateway = system.ActorOf(Gateway.NodeGateway.Props(ctx, ctx.Messenger), Gateway.NodeGateway.Name);
            registry.Register<RouterKey>(ctx.Router);
        });
        if (o.Seeds.Count == 0 && !joinByBootstrap)
            b.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));
        return b;
    }

    private static ShardOptions Copy(ShardOptions o, Action<ShardOptions> change)
    {
        var c = new ShardOptions
        {
            Role = o.Role, StateStoreMode = o.StateStoreMode, RememberEntitiesStore = o.RememberEntitiesStore,
            HandOffStopMessage = o.HandOffStopMessage, JournalPluginId = o.JournalPluginId, SnapshotPluginId = o.SnapshotPluginId,
        };
        change(c);
        return c;
    }
}
