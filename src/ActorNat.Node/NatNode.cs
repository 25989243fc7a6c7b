using System.Net;
using ActorNat.Core;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ActorNat.Node.Events;
using ActorNat.Node.Health;
using ActorNat.Node.Metrics;
using Prometheus;

namespace ActorNat.Node;

/// <summary>A node's settings are unusable, or its configuration file has a bad line: the node does not start.</summary>
public sealed class NodeStartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One ActorNat node: Kestrel over HTTP/2 without TLS (h2c), NatService and AdminService, gRPC health and reflection.
/// It speaks only to <see cref="INatBackend"/>: the in-process <see cref="LocalNatBackend"/> unless the caller
/// registers another (the cluster backend) in <c>configureServices</c>.
/// </summary>
public sealed class NatNode : IAsyncDisposable
{
    public const string ListenerItem = "actornat.listener";
    private readonly ListenOptions _grpc;
    private readonly ListenOptions? _admin;
    private readonly ListenOptions? _metrics;

    private readonly bool _tls;

    private NatNode(WebApplication app, NodeOptions options, ListenOptions grpc, ListenOptions? admin, ListenOptions? metrics, bool tls)
    {
        _tls = tls;
        App = app;
        Options = options;
        _grpc = grpc;
        _admin = admin;
        _metrics = metrics;
    }

    public WebApplication App { get; }
    public NodeOptions Options { get; }
    public IServiceProvider Services => App.Services;
    public INatBackend Backend => App.Services.GetRequiredService<INatBackend>();

    /// <summary>The bound ingress URL (after start; the real port when 0 was asked for).</summary>
    public string GrpcUrl => Url(_grpc, _tls);

    /// <summary>The bound admin URL: the ingress URL when admin has no endpoint of its own.</summary>
    public string AdminUrl => _admin is null ? GrpcUrl : Url(_admin, _tls);

    /// <summary>The bound HTTP/1.1 URL of /metrics and /healthz/*; null when MetricsEndpoint is "off".</summary>
    public string? MetricsUrl => _metrics is null ? null : Url(_metrics, false);

    /// <summary>The web dashboard on the metrics endpoint; null when that is "off".</summary>
    public string? DashboardUrl => MetricsUrl is { } m ? m + Dashboard.DashboardEndpoints.Path : null;

    /// <summary>This node's metrics (to push journal and allocation timings from a backend, or to read in tests).</summary>
    public NatMetrics Metrics => App.Services.GetRequiredService<NatMetrics>();

    /// <summary>The NAT event log.</summary>
    public NatEventLog Events => App.Services.GetRequiredService<NatEventLog>();

    private static string Url(ListenOptions l, bool tls) => l.IPEndPoint is { } ep ? $"{(tls ? "https" : "http")}://{(ep.Address.Equals(IPAddress.Any) ? "0.0.0.0" : ep.Address.ToString())}:{ep.Port}" : l.ToString() ?? "";

    /// <summary>
    /// Builds a node from configuration: appsettings.json (section "ActorNat"), environment variables
    /// (ACTORNAT__GRPCENDPOINT, …), <paramref name="args"/>, then <paramref name="overrides"/> (keys like
    /// "ActorNat:GrpcEndpoint"), each overriding the one before. Throws <see cref="NodeStartupException"/> on unusable settings.
    /// </summary>
    public static NatNode Create(string[]? args = null, IDictionary<string, string?>? overrides = null,
        Action<IServiceCollection>? configureServices = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [] });
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddEnvironmentVariables();
        if (args is { Length: > 0 }) builder.Configuration.AddCommandLine(args);
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        // Logs go to stderr: stdout carries what scripts read (the "node … grpc=URL" line).
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);

        var options = new NodeOptions();
        try
        {
            builder.Configuration.GetSection(NodeOptions.Section).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new NodeStartupException($"bad node setting: {e.Message}", e);
        }
        Validate(options);

        var grpcEp = ParseEndpoint(options.GrpcEndpoint, "grpc endpoint");
        var adminEp = options.AdminEndpoint is { Length: > 0 } a ? ParseEndpoint(a, "admin endpoint") : null;
        var metricsOff = string.Equals(options.MetricsEndpoint, "off", StringComparison.OrdinalIgnoreCase);
        var metricsEp = metricsOff ? null
            : options.MetricsEndpoint is { Length: > 0 } m ? ParseEndpoint(m, "metrics endpoint") : new IPEndPoint(grpcEp.Address, 0);
        var managementEp = options.Backend == "cluster" && ClusterFormation.ByBootstrap(options) ? ParseEndpoint(options.ManagementEndpoint, "management endpoint") : null;
        var tls = TransportSecurity.Load(options);
        if (!tls.Tls && options.GrpcEndpoint.Trim().StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new NodeStartupException($"bad grpc endpoint \"{options.GrpcEndpoint}\": https needs --tls-cert and --tls-key (ActorNat:TlsCertificate/TlsKey)");
        var adminExposed = adminEp ?? grpcEp;
        if (!IPAddress.IsLoopback(adminExposed.Address) && string.IsNullOrEmpty(options.AdminToken))
            throw new NodeStartupException(
                $"refusing to start: the admin API would listen on {adminExposed} (beyond loopback) without an admin token; " +
                "set --admin-token / ActorNat:AdminToken, or bind the admin endpoint to 127.0.0.1 (--admin 127.0.0.1:PORT)");
        TransportSecurity.CheckExposure(options, tls, grpcEp, adminEp);

        ListenOptions? grpcListen = null, adminListen = null, metricsListen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(grpcEp, lo =>
            {
                lo.Protocols = HttpProtocols.Http2;
                tls.Apply(lo);
                Tag(lo, "ingress");
                grpcListen = lo;
            });
            if (adminEp is not null)
                k.Listen(adminEp, lo =>
                {
                    lo.Protocols = HttpProtocols.Http2;
                    tls.Apply(lo);
                    Tag(lo, "admin");
                    adminListen = lo;
                });
            if (managementEp is not null)
                k.Listen(managementEp, lo =>
                {
                    lo.Protocols = HttpProtocols.Http1;
                    Tag(lo, "management");
                });
            if (metricsEp is not null)
                k.Listen(metricsEp, lo =>
                {
                    lo.Protocols = HttpProtocols.Http1;
                    Tag(lo, "metrics");
                    metricsListen = lo;
                });
        });

        var services = builder.Services;
        configureServices?.Invoke(services);
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddSingleton<NodeInfo>();
        if (options.Backend == "local")
        {
            var seed = options.RandomSeed != 0 ? options.RandomSeed : (ulong)Random.Shared.NextInt64(1, long.MaxValue);
            services.TryAddSingleton<INatBackend>(_ => new LocalNatBackend(new NatEngine(SystemClock.Instance, new SeededRandom(seed)), options.NodeName));
        }
        else if (!services.Any(d => d.ServiceType == typeof(INatBackend)))
            ClusterBackend.Add(services, options);
        AddOperations(services, options);
        Dashboard.DashboardEndpoints.AddDashboard(services);

        // Before Kestrel starts: a bad configuration line stops the node before it serves anything.
        services.AddHostedService<ConfigFileLoader>();
        services.AddHostedService<ShutdownSignals>();
        services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        // A singleton: its log rate limit spans calls.
        services.AddSingleton(sp => new ClusterTimeoutInterceptor(sp.GetRequiredService<NatMetrics>(),
            sp.GetRequiredService<ILogger<ClusterTimeoutInterceptor>>(), sp.GetService<ActorNat.Cluster.NatNodeContext>()));
        services.AddGrpc(g =>
        {
            g.EnableDetailedErrors = false;
            g.Interceptors.Add<BoundedErrorInterceptor>();
            g.Interceptors.Add<AdminEndpointInterceptor>();
            g.Interceptors.Add<PacketTokenInterceptor>();
            g.Interceptors.Add<ClusterTimeoutInterceptor>();
        });
        services.AddGrpcReflection();
        // One readiness check feeds both gRPC health (overall status) and /healthz/ready; /healthz/live runs no check.
        services.AddGrpcHealthChecks().AddCheck<ReadinessCheck>("backend", tags: [HealthEndpoints.ReadyTag]);

        var app = builder.Build();
        app.MapGrpcService<NatGrpcService>();
        app.MapGrpcService<AdminGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        if (managementEp is not null) ClusterFormation.MapBootstrapRoute(app);
        app.MapMetrics(HealthEndpoints.Metrics, app.Services.GetRequiredService<NatMetrics>().Registry);
        Dashboard.DashboardEndpoints.MapDashboard(app);
        app.MapHealthChecks(HealthEndpoints.Live, new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks(HealthEndpoints.Ready, new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(HealthEndpoints.ReadyTag),
        });
        _ = app.Services.GetRequiredService<ScrapeCollector>();
        var node = new NatNode(app, options, grpcListen!, adminListen, metricsListen, tls.Tls);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var info = app.Services.GetRequiredService<NodeInfo>();
            info.GrpcUrl = node.GrpcUrl;
            if (app.Services.GetService<ActorNat.Cluster.NatNodeContext>() is { } cluster) cluster.GrpcEndpoint = node.GrpcUrl;
            info.AdminUrl = node.AdminUrl;
            _ = app.Services.GetRequiredService<INatBackend>(); // hooks the backend's events before the first packet
            // Until a probe asks: ready when the backend cannot tell otherwise (probes then keep it current).
            var m = app.Services.GetRequiredService<NatMetrics>();
            m.SetReady(app.Services.GetService<IReadiness>() is null && (app.Services.GetRequiredService<INatBackend>() as MeteredNatBackend)?.Inner is not IReadiness);
            app.Lifetime.ApplicationStopping.Register(() => m.SetReady(false));
        });
        return node;
    }

    /// <summary>
    /// Metrics, the NAT event log and readiness around whatever backend was registered: the registration of
    /// <see cref="INatBackend"/> is wrapped in <see cref="MeteredNatBackend"/>; the real backend stays reachable as
    /// <see cref="MeteredNatBackend.Inner"/>. A backend that implements <see cref="INodeMetricsSource"/> or
    /// <see cref="IReadiness"/> (or registers them in DI) is asked at scrape and probe time.
    /// </summary>
    private static void AddOperations(IServiceCollection services, NodeOptions options)
    {
        NatEventsMode.Parse(options.NatEvents); // a bad value stops the node here
        services.AddSingleton(_ => new NatMetrics(options.NodeName));
        services.AddSingleton<NatEventLog>();
        services.AddSingleton<INatEventSink>(sp => sp.GetRequiredService<NatEventLog>());
        services.AddHostedService(sp => sp.GetRequiredService<NatEventLog>());

        var inner = services.Last(d => d.ServiceType == typeof(INatBackend));
        services.Remove(inner);
        Func<IServiceProvider, INatBackend> make = inner.ImplementationInstance is INatBackend instance ? _ => instance
            : inner.ImplementationFactory is { } factory ? sp => (INatBackend)factory(sp)
            : sp => (INatBackend)ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!);
        services.AddSingleton(sp => new InnerBackend(make(sp)));
        services.AddSingleton<INatBackend>(sp =>
        {
            var real = sp.GetRequiredService<InnerBackend>().Backend;
            var metrics = sp.GetRequiredService<NatMetrics>();
            var events = sp.GetRequiredService<INatEventSink>();
            Func<ActorNat.Core.Net.FiveTuple, ActorNat.Core.Net.IPv4>? natIpOf = null;
            if (real is LocalNatBackend local)
            {
                LocalBackendHooks.Attach(local, metrics, events);
                natIpOf = LocalBackendHooks.NatIpResolver(local);
            }
            if (real is ActorNat.Cluster.ClusterNatBackend cluster)
                ClusterMetricsSource.Attach(cluster, sp.GetRequiredService<Akka.Actor.ActorSystem>(), metrics, events);
            return new MeteredNatBackend(real, metrics, events, natIpOf);
        });
        services.AddSingleton(sp =>
        {
            var real = sp.GetRequiredService<InnerBackend>().Backend;
            var sources = sp.GetServices<INodeMetricsSource>().ToList();
            if (real is INodeMetricsSource own && !sources.Contains(own)) sources.Add(own);
            if (real is LocalNatBackend local) sources.Add(new LocalBackendMetricsSource(local));
            if (real is ActorNat.Cluster.ClusterNatBackend cluster) sources.Add(new ClusterMetricsSource(cluster));
            return new ScrapeCollector(sp.GetRequiredService<NatMetrics>(), sources, sp.GetRequiredService<ILoggerFactory>().CreateLogger<ScrapeCollector>());
        });
        services.AddSingleton(sp => new ReadinessCheck(sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<NatMetrics>(),
            sp.GetService<IReadiness>() ?? sp.GetRequiredService<InnerBackend>().Backend as IReadiness));
    }

    private sealed record InnerBackend(INatBackend Backend);

    private static void Tag(ListenOptions lo, string name) =>
        lo.Use(next => ctx =>
        {
            ctx.Items[ListenerItem] = name;
            return next(ctx);
        });

    private static void Validate(NodeOptions o)
    {
        if (o.MaxBatchSize < 1) throw new NodeStartupException($"bad MaxBatchSize={o.MaxBatchSize}: must be at least 1");
        if (o.ListPageSize < 1) throw new NodeStartupException($"bad ListPageSize={o.ListPageSize}: must be at least 1");
        if (string.IsNullOrWhiteSpace(o.NodeName)) throw new NodeStartupException("bad NodeName: empty");
        if (o.Backend is not ("local" or "cluster")) throw new NodeStartupException($"bad Backend=\"{o.Backend}\": expected local or cluster");
        if (o.Remoting is { Length: > 0 } r) ParseEndpoint(r, "remoting endpoint");
        ClusterFormation.Validate(o);
        foreach (var s in o.Seeds) ParseEndpoint(s, "seed node");
        if (!(o.Database == "memory" || o.Database.StartsWith("sqlite:", StringComparison.Ordinal) || o.Database.StartsWith("postgres://", StringComparison.Ordinal)
              || o.Database.StartsWith("postgresql://", StringComparison.Ordinal)))
            throw new NodeStartupException($"bad Database=\"{o.Database}\": expected sqlite:PATH, postgres://USER:PASS@HOST:PORT/DB or memory (nothing durable)");
        if (o.Journal is not ("actornat" or "akka")) throw new NodeStartupException($"bad Journal=\"{o.Journal}\": expected actornat or akka");
    }

    /// <summary>"host:port", "http://host:port" (host: an IPv4 address, localhost, or * for all interfaces).</summary>
    public static IPEndPoint ParseEndpoint(string text, string what)
    {
        var t = text.Trim();
        if (t.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) t = t["https://".Length..].TrimEnd('/'); // TLS: TlsCertificate/TlsKey
        if (t.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) t = t["http://".Length..].TrimEnd('/');
        var colon = t.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(t.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
            throw new NodeStartupException($"bad {what} \"{text}\": expected HOST:PORT with a port 0-65535");
        var host = t[..colon];
        IPAddress ip = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "+" => IPAddress.Any,
            _ when IPAddress.TryParse(host, out var parsed) => parsed,
            _ => throw new NodeStartupException($"bad {what} \"{text}\": host \"{host}\" is not an IP address, localhost or *"),
        };
        return new IPEndPoint(ip, port);
    }

    public Task StartAsync(CancellationToken ct = default) => App.StartAsync(ct);
    public Task StopAsync(CancellationToken ct = default) => App.StopAsync(ct);

    /// <summary>Runs until SIGTERM/SIGINT or <paramref name="ct"/>, then stops gracefully.</summary>
    public Task RunAsync(CancellationToken ct = default) => App.RunAsync(ct);

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>Applies the configuration file at start, before the node listens. A bad line is fatal and names its token.</summary>
internal sealed class ConfigFileLoader(INatBackend backend, IOptions<NodeOptions> options, ILogger<ConfigFileLoader> log) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        var path = options.Value.ConfigFile;
        if (string.IsNullOrEmpty(path)) return;
        string[] lines;
        try
        {
            lines = await File.ReadAllLinesAsync(path, ct);
        }
        catch (IOException e)
        {
            throw new NodeStartupException($"cannot read config file {path}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new NodeStartupException($"cannot read config file {path}: {e.Message}", e);
        }
        int applied = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            try
            {
                await backend.ApplyConfigAsync(line, ct);
                applied++;
            }
            catch (ParseException e)
            {
                throw new NodeStartupException($"{path}:{i + 1}: {e.Message} (wrong token: \"{e.Token}\") in: {line}", e);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or KeyNotFoundException)
            {
                throw new NodeStartupException($"{path}:{i + 1}: {e.Message} in: {line}", e);
            }
        }
        log.LogInformation("applied {Count} configuration lines from {Path}", applied, path);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}

/// <summary>With a packet token, NatService calls must carry "authorization: Bearer PACKET_TOKEN".</summary>
internal sealed class PacketTokenInterceptor(IOptions<NodeOptions> options) : Interceptor
{
    private const string NatPrefix = "/actornat.v1.NatService/";

    private void Check(ServerCallContext context)
    {
        var expected = options.Value.PacketToken;
        if (string.IsNullOrEmpty(expected) || !context.Method.StartsWith(NatPrefix, StringComparison.Ordinal)) return;
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the packet path needs \"authorization: Bearer TOKEN\" (the node's packet token)"));
        if (!System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()), System.Text.Encoding.UTF8.GetBytes(expected)))
            throw new RpcException(new Status(StatusCode.PermissionDenied, "wrong packet token"));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }
}

/// <summary>When admin has an endpoint of its own, AdminService answers only there.</summary>
internal sealed class AdminEndpointInterceptor(IOptions<NodeOptions> options) : Interceptor
{
    private const string AdminPrefix = "/actornat.v1.AdminService/";

    private void Check(ServerCallContext context)
    {
        if (string.IsNullOrEmpty(options.Value.AdminEndpoint) || !context.Method.StartsWith(AdminPrefix, StringComparison.Ordinal)) return;
        var items = context.GetHttpContext().Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null || !items.TryGetValue(NatNode.ListenerItem, out var l) || (string?)l != "admin")
            throw new RpcException(new Status(StatusCode.Unimplemented, "AdminService is served on the admin endpoint only"));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }
}
