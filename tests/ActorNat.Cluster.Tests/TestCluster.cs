using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using ActorNat.Cluster;
using ActorNat.Cluster.Hosting;
using ActorNat.Core.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActorNat.Cluster.Tests;

/// <summary>One node of a test cluster: a real ActorSystem with remoting on 127.0.0.1, port 0.</summary>
public sealed class TestNode(IHost host, NatNodeContext ctx) : IAsyncDisposable
{
    public IHost Host { get; } = host;
    public NatNodeContext Context { get; } = ctx;
    public ActorSystem System => Host.Services.GetRequiredService<ActorSystem>();
    public ClusterNatBackend Backend { get; } = new(host.Services.GetRequiredService<ActorSystem>(), ctx);
    public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;
    public bool Aborted { get; private set; }

    /// <summary>Abrupt loss: no leave, no hand-off, no coordinated shutdown.</summary>
    public void Abort()
    {
        Aborted = true;
        ((ExtendedActorSystem)System).Abort();
    }

    public async ValueTask DisposeAsync()
    {
        if (!Aborted)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await Host.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        }
        Host.Dispose();
    }
}

/// <summary>Several ActorSystems in one process forming one cluster; awaited conditions, never sleeps.</summary>
public sealed class TestCluster : IAsyncDisposable
{
    public List<TestNode> Nodes { get; } = [];
    public ManualClock Clock { get; }
    private readonly Func<ClusterNodeOptions, ClusterNodeOptions> _configure;
    private readonly string _database;

    private TestCluster(ManualClock clock, string database, Func<ClusterNodeOptions, ClusterNodeOptions> configure)
    {
        Clock = clock;
        _database = database;
        _configure = configure;
    }

    public static async Task<TestCluster> Start(int nodes, string database = "memory", Func<ClusterNodeOptions, ClusterNodeOptions>? configure = null,
        Action<string, string, bool>? activations = null)
    {
        var c = new TestCluster(new ManualClock(1_000_000), database, configure ?? (o => o)) { Activations = activations, _verifyMessages = nodes == 1 };
        for (int i = 0; i < nodes; i++) await c.AddNode();
        await c.AwaitUp();
        return c;
    }

    public Action<string, string, bool>? Activations { get; init; }
    private bool _verifyMessages;

    public async Task<TestNode> AddNode()
    {
        var options = _configure(new ClusterNodeOptions
        {
            NodeName = $"node{Nodes.Count + 1}", Database = _database, Seed = 42 + (ulong)Nodes.Count, Shards = 30,
            Seeds = Nodes.Count == 0 ? [] : [Nodes[0].Address.ToString()],
            // One node: every message, local ones too, goes through its serializer (serialize-messages). Several
            // nodes: strict serialization, so a message without a binding fails instead of travelling as JSON.
            // (Akka's own internals allow only one of the two at a time: with both, a node cannot join itself, and
            // DData's local-only ReadRepair cannot be serialized across several nodes.)
            SerializeMessages = _verifyMessages, StrictSerialization = !_verifyMessages,
            SweepInterval = TimeSpan.FromMilliseconds(200),
        });
        var ctx = new NatNodeContext(options, Clock) { ActivationObserver = Activations };
        var host = new HostBuilder()
            .ConfigureServices(s => s.AddAkka(options.SystemName, (b, _) => b.WithActorNat(ctx)))
            .Build();
        await host.StartAsync();
        var node = new TestNode(host, ctx);
        Nodes.Add(node);
        return node;
    }

    public IEnumerable<TestNode> Live => Nodes.Where(n => !n.Aborted);

    /// <summary>Every live node sees every live node Up, and every pool/conntrack region is registered.</summary>
    public async Task AwaitUp(TimeSpan? timeout = null)
    {
        int n = Live.Count();
        await Until(() => Task.FromResult(Live.All(x => Akka.Cluster.Cluster.Get(x.System).State.Members.Count(m => m.Status == MemberStatus.Up) == n)),
            timeout ?? TimeSpan.FromSeconds(60), $"{n} members up");
        var first = Live.First();
        await Until(async () =>
        {
            var regions = await first.Context.ConntrackRegion.Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(3));
            return regions.Regions.Count == n;
        }, timeout ?? TimeSpan.FromSeconds(60), $"{n} conntrack regions registered");
    }

    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        Exception? last = null;
        while (sw.Elapsed < timeout)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is AskTimeoutException or TimeoutException or TaskCanceledException)
            {
                last = e;
            }
            await Task.Delay(25); // polling interval of an awaited condition
        }
        throw new TimeoutException($"timed out after {timeout} waiting for: {what}" + (last is null ? "" : $" (last error: {last.Message})"));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.AsEnumerable().Reverse()) await node.DisposeAsync();
    }
}
