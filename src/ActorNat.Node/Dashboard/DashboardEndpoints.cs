using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Node.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace ActorNat.Node.Dashboard;

/// <summary>
/// The web dashboard under /dashboard/: the page and its JSON. Read-only: it changes nothing, so it needs no token
/// (like the admin service's listings). Served on every listener: browsers use the HTTP/1.1 metrics endpoint, and a
/// node asks its peers for their numbers over their gRPC endpoint (HTTP/2 without TLS), the address each member
/// advertises in the cluster.
/// </summary>
public static class DashboardEndpoints
{
    public const string Path = "/dashboard/";
    public const int ConntrackLimit = 500;
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(2), MembersTimeout = TimeSpan.FromSeconds(3);

    private static readonly HttpClient Peers = new(new SocketsHttpHandler { ConnectTimeout = PeerTimeout, PooledConnectionLifetime = TimeSpan.FromMinutes(1) });

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void AddDashboard(IServiceCollection services)
    {
        services.AddSingleton<MetricsHistory>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsHistory>());
        services.AddSingleton<MembershipEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<MembershipEvents>());
    }

    public static void MapDashboard(WebApplication app)
    {
        // Routing ignores a trailing slash: /dashboard redirects so that the page's relative links resolve.
        app.MapGet(Path, (HttpContext http) => http.Request.Path.Value!.EndsWith('/') ? Asset("index.html") : Results.Redirect(Path));
        app.MapGet(Path + "{file}", (string file) => Asset(file));
        app.MapGet(Path + "api/local", (HttpContext http) => Results.Json(Local(http.RequestServices), Json));
        app.MapGet(Path + "api/cluster", (Delegate)((HttpContext http) => ClusterAsync(http.RequestServices, http.RequestAborted)));
        app.MapGet(Path + "api/conntrack", (Delegate)((HttpContext http, string? q) =>
            Refusal(http) is { } no ? Task.FromResult(no) : ConntrackAsync(http.RequestServices, q, http.RequestAborted)));
        app.MapGet(Path + "api/config", async (HttpContext http, INatBackend backend, CancellationToken ct) =>
        {
            if (Refusal(http) is { } no) return no;
            var c = await backend.GetConfigAsync(ct);
            return Results.Json(new { addresses = c.Addresses, routes = c.Routes, rules = c.Rules }, Json);
        });
    }

    /// <summary>
    /// The conntrack table and the configuration are the admin service's listings: from beyond loopback (a metrics
    /// endpoint bound to all interfaces) they need the admin token (page URL #token=…), and are refused when none is set.
    /// </summary>
    private static IResult? Refusal(HttpContext http)
    {
        var token = http.RequestServices.GetRequiredService<IOptions<NodeOptions>>().Value.AdminToken;
        return Admits(http.Connection.RemoteIpAddress, token, http.Request.Headers.Authorization.ToString()) switch
        {
            null => null,
            var why => Results.Json(new { error = why }, Json, statusCode: StatusCodes.Status403Forbidden),
        };
    }

    /// <summary>Null when a listing may be shown to this caller; otherwise why not.</summary>
    public static string? Admits(IPAddress? remote, string? token, string authorization)
    {
        if (remote is not null && IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)) return null;
        if (string.IsNullOrEmpty(token)) return "the conntrack table and the configuration are shown beyond loopback only with an admin token (set --admin-token)";
        var given = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : "";
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(token))
            ? null : "this listing needs the admin token: open the dashboard as …/dashboard/#token=TOKEN";
    }

    private static IResult Asset(string file)
    {
        var s = DashboardAssets.Open(file);
        return s is null ? Results.NotFound() : Results.Stream(s, DashboardAssets.ContentType(file));
    }

    /// <summary>This node's numbers: running totals over the last minutes and its gauges.</summary>
    public sealed record LocalView(string Node, long Now, long IntervalMs, NodeSample[] Samples, NodeGauges Gauges);

    internal static LocalView Local(IServiceProvider sp)
    {
        var (samples, gauges) = sp.GetRequiredService<MetricsHistory>().Read();
        return new LocalView(sp.GetRequiredService<IOptions<NodeOptions>>().Value.NodeName, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            (long)MetricsHistory.Fast.TotalMilliseconds, samples, gauges);
    }

    public sealed record MemberInfo(string Address, IReadOnlyList<string> Roles, string Status, bool IsSelf, bool IsLeader, int Shards,
        long Entries, string GrpcEndpoint, LocalView? View, string? Error);

    public sealed record ClusterInfo(string Backend, string Self, string? MembersError, IReadOnlyList<MemberInfo> Members, IReadOnlyList<MembershipEvent> Events);

    private static async Task<IResult> ClusterAsync(IServiceProvider sp, CancellationToken ct)
    {
        var options = sp.GetRequiredService<IOptions<NodeOptions>>().Value;
        var info = sp.GetRequiredService<NodeInfo>();
        var backend = sp.GetRequiredService<INatBackend>();
        var real = backend is MeteredNatBackend m ? m.Inner : backend;
        var self = Local(sp);
        IReadOnlyList<MemberView> members;
        string? error = null;
        if (real is IClusterView view)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(MembersTimeout);
            try
            {
                members = await view.MembersAsync(cts.Token);
                foreach (var x in members) if (x.GrpcEndpoint.Length > 0) KnownEndpoints[x.Address] = x.GrpcEndpoint;
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException or Akka.Actor.AskTimeoutException && !ct.IsCancellationRequested)
            {
                error = $"the cluster did not report its members within {MembersTimeout.TotalSeconds:0} s ({e.GetType().Name})";
                members = AkkaMembers(sp) ?? [new MemberView(options.Remoting ?? info.GrpcUrl, [], "?", true, false, 0, 0, info.GrpcUrl)];
            }
        }
        else
        {
            var count = await backend.CountAsync(ct);
            members = [new MemberView(info.GrpcUrl, ["nat"], "Up", true, true, 0, count, info.GrpcUrl)];
        }
        var client = Peers;
        var results = await Task.WhenAll(members.Select(async x =>
        {
            if (x.IsSelf) return new MemberInfo(x.Address, x.Roles, x.Status, true, x.IsLeader, x.Shards, x.Entries, x.GrpcEndpoint, self, null);
            var (peer, why) = await PeerAsync(client, Reachable(x.GrpcEndpoint, x.Address), ct);
            return new MemberInfo(x.Address, x.Roles, x.Status, false, x.IsLeader, x.Shards, x.Entries, x.GrpcEndpoint, peer, why);
        }));
        return Results.Json(new ClusterInfo(options.Backend, members.FirstOrDefault(x => x.IsSelf)?.Address ?? "", error, results,
            sp.GetRequiredService<MembershipEvents>().Recent()), Json);
    }

    /// <summary>
    /// When the members do not all answer (one just died): Akka's own view of membership and reachability, without
    /// shards and entries (each member counts those itself), and gRPC endpoints learnt on earlier polls.
    /// </summary>
    private static List<MemberView>? AkkaMembers(IServiceProvider sp)
    {
        if (sp.GetService<Akka.Actor.ActorSystem>() is not { } system) return null;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        return state.Members.Select(m => new MemberView(m.Address.HostPort(), [.. m.Roles], state.Unreachable.Contains(m) ? "Unreachable" : m.Status.ToString(),
            m.Address == cluster.SelfAddress, state.Leader == m.Address, 0, 0, KnownEndpoints.GetValueOrDefault(m.Address.HostPort(), ""))).ToList();
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> KnownEndpoints = new();

    /// <summary>
    /// A member bound to all interfaces advertises http://0.0.0.0:PORT (its listener): reach it at the host of its
    /// cluster address instead (actornat@HOST:PORT), which other members already reach.
    /// </summary>
    internal static string Reachable(string endpoint, string memberAddress)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || !(uri.Host is "0.0.0.0" or "[::]" or "::")) return endpoint;
        var at = memberAddress.LastIndexOf('@');
        var hostPort = at >= 0 ? memberAddress[(at + 1)..] : memberAddress;
        var colon = hostPort.LastIndexOf(':');
        var host = colon > 0 ? hostPort[..colon] : hostPort;
        return host.Length == 0 ? endpoint : new UriBuilder(uri) { Host = host }.Uri.ToString().TrimEnd('/');
    }

    /// <summary>A peer's own numbers, asked over its gRPC endpoint (HTTP/2 prior knowledge); an error says why not.</summary>
    private static async Task<(LocalView?, string?)> PeerAsync(HttpClient client, string endpoint, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(endpoint)) return (null, "no endpoint advertised");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(PeerTimeout);
        try
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, endpoint.TrimEnd('/') + Path + "api/local")
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var resp = await client.SendAsync(req, cts.Token);
            if (!resp.IsSuccessStatusCode) return (null, $"HTTP {(int)resp.StatusCode}");
            return (await resp.Content.ReadFromJsonAsync<LocalView>(Json, cts.Token), null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, $"no answer within {PeerTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            return (null, e.Message);
        }
    }

    private static async Task<IResult> ConntrackAsync(IServiceProvider sp, string? q, CancellationToken ct)
    {
        ConntrackFilter filter;
        ConntrackQuery query;
        try
        {
            query = ConntrackQuery.Parse(q);
            filter = PacketMapper.ToFilter(query.Filter);
        }
        catch (FormatException e)
        {
            return Results.Json(new { error = e.Message }, Json, statusCode: 400);
        }
        catch (RpcException e)
        {
            return Results.Json(new { error = e.Status.Detail }, Json, statusCode: 400);
        }
        var records = await sp.GetRequiredService<INatBackend>().ListAsync(filter, ct);
        var shown = records.Take(ConntrackLimit)
            .Select(r => new { line = ConntrackFormatter.FormatWithRemaining(r.Entry, r.TimeoutSeconds, query.WithId), node = r.Node }).ToList();
        return Results.Json(new { total = records.Count, lines = shown, footer = ConntrackFormatter.Footer(records.Count) }, Json);
    }
}
