using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Hosting;
using ActorNat.Cluster;
using ActorNat.Cluster.Hosting;
using ActorNat.Core.Engine;
using ActorNat.Node.Health;
using Microsoft.Extensions.DependencyInjection;

namespace ActorNat.Node;

/// <summary>Wires the sharded cluster backend into the node: the actor system (Akka.Hosting), the backend, readiness.</summary>
internal static class ClusterBackend
{
    private static readonly ClusterNodeOptions Defaults = new();

    public static void Add(IServiceCollection services, NodeOptions options)
    {
        var (host, port) = options.Remoting is { Length: > 0 } r ? SplitHostPort(r) : ("127.0.0.1", 0);
        var cluster = new ClusterNodeOptions
        {
            NodeName = options.NodeName,
            Host = host,
            Port = port,
            PublicHost = options.PublicHostname,
            // Remoting over TLS has its own protocol name in addresses.
            Seeds = options.Seeds.Select(s => s.Contains("://") ? s
                : $"{(string.IsNullOrEmpty(options.RemotingCertificate) ? "akka.tcp" : "akka.ssl.tcp")}://actornat@{s}").ToList(),
            Database = options.Database,
            Journal = options.Journal,
            ActivationLog = options.ActivationLog,
            RemotingCertificate = RemotingCertificate(options),
            RemotingCa = options.RemotingCa is { Length: > 0 } ca ? TransportSecurity.LoadCa(ca, "RemotingCa") : null,
            HeartbeatInterval = options.HeartbeatInterval ?? Defaults.HeartbeatInterval,
            AcceptableHeartbeatPause = options.AcceptableHeartbeatPause ?? Defaults.AcceptableHeartbeatPause,
            StableAfter = options.StableAfter ?? Defaults.StableAfter,
            DownGoneMembers = options.DownGoneMembers,
            Seed = options.RandomSeed != 0 ? options.RandomSeed : (ulong)Random.Shared.NextInt64(1, long.MaxValue),
        };
        var ctx = new NatNodeContext(cluster, SystemClock.Instance);
        services.AddSingleton(ctx);
        bool bootstrap = ClusterFormation.ByBootstrap(options);
        var watch = new BootstrapWatch();
        services.AddAkka(cluster.SystemName, (b, _) =>
        {
            b.WithActorNat(ctx, joinByBootstrap: bootstrap);
            ClusterFormation.Add(b, options, PublicHost(options.PublicHostname, host), watch);
        });
        services.AddSingleton<INatBackend>(sp => new ClusterNatBackend(sp.GetRequiredService<ActorSystem>(), ctx));
        services.AddSingleton<IReadiness>(sp => new ClusterReadiness(sp.GetRequiredService<ActorSystem>(), ctx, bootstrap ? options.Discovery : null, watch));
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2? RemotingCertificate(NodeOptions o)
    {
        if (string.IsNullOrEmpty(o.RemotingCertificate) != string.IsNullOrEmpty(o.RemotingKey))
            throw new NodeStartupException("bad remoting TLS settings: RemotingCertificate (--remoting-cert) and RemotingKey (--remoting-key) go together");
        if (string.IsNullOrEmpty(o.RemotingCertificate))
        {
            if (!string.IsNullOrEmpty(o.RemotingCa)) throw new NodeStartupException("bad remoting TLS settings: RemotingCa needs RemotingCertificate and RemotingKey");
            return null;
        }
        return TransportSecurity.LoadPair(o.RemotingCertificate!, o.RemotingKey!, "RemotingCertificate");
    }

    /// <summary>The address others reach this node at: the public hostname, else the remoting host unless it is a wildcard.</summary>
    private static string PublicHost(string? publicHostname, string remotingHost) =>
        publicHostname is { Length: > 0 } p ? p
        : remotingHost is "*" or "+" or "0.0.0.0" or "" ? System.Net.Dns.GetHostName()
        : remotingHost;

    private static (string, int) SplitHostPort(string endpoint)
    {
        var i = endpoint.LastIndexOf(':');
        if (i <= 0 || !int.TryParse(endpoint[(i + 1)..], out var port) || port is < 0 or > 65535)
            throw new NodeStartupException($"bad remoting endpoint \"{endpoint}\": expected HOST:PORT");
        return (endpoint[..i], port);
    }

    /// <summary>
    /// Ready once this node is an Up member, its regions have started, it has the cluster's configuration, and every
    /// pool recorded in the journal has recovered (<see cref="PoolWarmup"/>): the first `conntrack -C` after ready counts
    /// the whole table. Then the pause fence counts busy stalls too (<see cref="ActorNat.Cluster.Fencing.NodeFence.Settle"/>).
    /// </summary>
    private sealed class ClusterReadiness : IReadiness
    {
        private readonly ActorSystem _system;
        private readonly NatNodeContext _ctx;
        private readonly string? _bootstrapDiscovery;
        private readonly BootstrapWatch _watch;
        private volatile string? _warmup = "waiting to recover the pools";

        public ClusterReadiness(ActorSystem system, NatNodeContext ctx, string? bootstrapDiscovery, BootstrapWatch watch)
        {
            (_system, _ctx, _bootstrapDiscovery, _watch) = (system, ctx, bootstrapDiscovery, watch);
            _ = Task.Run(WarmUpAsync);
        }

        private async Task WarmUpAsync()
        {
            var log = _system.Log;
            while (!_system.WhenTerminated.IsCompleted)
            {
                try
                {
                    if (Akka.Cluster.Cluster.Get(_system).SelfMember.Status == MemberStatus.Up && !_ctx.PoolRegion.IsNobody() && _ctx.Config.Loaded)
                    {
                        _warmup = "recovering the pools recorded in the journal";
                        var n = await PoolWarmup.WakeRecordedPoolsAsync(_system, _ctx, CancellationToken.None).ConfigureAwait(false);
                        log.Info("recovered {0} pools from the journal; ready", n);
                        _warmup = null;
                        _ctx.Fence.Settle();
                        return;
                    }
                }
                catch (Exception e)
                {
                    _warmup = $"recovering the pools: {e.GetType().Name}: {e.Message}";
                    log.Warning("recovering the pools at start failed, retrying: {0}", e.Message);
                }
                await Task.Delay(200).ConfigureAwait(false); // polls for the member to be Up; also the retry pace
            }
        }

        public ValueTask<(bool Ready, string Reason)> CheckAsync(CancellationToken ct)
        {
            var cluster = Akka.Cluster.Cluster.Get(_system);
            var self = cluster.SelfMember;
            if (self.Status != MemberStatus.Up)
                return ValueTask.FromResult((false, _bootstrapDiscovery is not null && cluster.State.Members.IsEmpty
                    ? $"waiting for cluster bootstrap (discovery {_bootstrapDiscovery})" + (_watch.LastFailure is { } f ? $"; last problem: {f}" : "")
                    : $"cluster member is {self.Status}"));
            if (_ctx.Router.IsNobody()) return ValueTask.FromResult((false, "regions starting"));
            if (!_ctx.Config.Loaded) return ValueTask.FromResult((false, "waiting for the cluster's configuration"));
            if (_warmup is { } w) return ValueTask.FromResult((false, w));
            if (JournalMeter.Get(_system).Problem is { } journal) return ValueTask.FromResult((false, journal));
            if (_ctx.Fence.Held is { } held) return ValueTask.FromResult((false, held));
            return ValueTask.FromResult((true, "up"));
        }
    }
}
