using Akka.Actor;
using Akka.Cluster;
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
            Seeds = options.Seeds.Select(s => s.Contains("://") ? s : $"akka.tcp://actornat@{s}").ToList(),
            Database = options.Database,
            ActivationLog = options.ActivationLog,
            HeartbeatInterval = options.HeartbeatInterval ?? Defaults.HeartbeatInterval,
            AcceptableHeartbeatPause = options.AcceptableHeartbeatPause ?? Defaults.AcceptableHeartbeatPause,
            StableAfter = options.StableAfter ?? Defaults.StableAfter,
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

    /// <summary>Ready once this node is an Up member, has its configuration, and its regions have started.</summary>
    private sealed class ClusterReadiness(ActorSystem system, NatNodeContext ctx, string? bootstrapDiscovery, BootstrapWatch watch) : IReadiness
    {
        public ValueTask<(bool Ready, string Reason)> CheckAsync(CancellationToken ct)
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var self = cluster.SelfMember;
            if (self.Status != MemberStatus.Up)
                return ValueTask.FromResult((false, bootstrapDiscovery is not null && cluster.State.Members.IsEmpty
                    ? $"waiting for cluster bootstrap (discovery {bootstrapDiscovery})" + (watch.LastFailure is { } f ? $"; last problem: {f}" : "")
                    : $"cluster member is {self.Status}"));
            if (ctx.Router.IsNobody()) return ValueTask.FromResult((false, "regions starting"));
            return ValueTask.FromResult((true, "up"));
        }
    }
}
