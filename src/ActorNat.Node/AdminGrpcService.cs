using System.Security.Cryptography;
using System.Text;
using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Node.Metrics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node;

/// <summary>
/// Addresses, routes and rules in iproute2/iptables syntax; conntrack; cluster status. Calls that change anything
/// need the admin bearer token when one is configured.
/// </summary>
public sealed class AdminGrpcService(INatBackend backend, IOptions<NodeOptions> options, NodeInfo info) : Wire.AdminService.AdminServiceBase
{
    private static readonly Wire.Empty Done = new();

    public override async Task<Wire.Empty> AddressAdd(Wire.AddressRequest request, ServerCallContext context) =>
        await Apply(context, "ip addr add ", request.Spec, "spec");

    public override async Task<Wire.Empty> AddressDel(Wire.AddressRequest request, ServerCallContext context) =>
        await Apply(context, "ip addr del ", request.Spec, "spec");

    public override async Task<Wire.Listing> AddressList(Wire.ListRequest request, ServerCallContext context) =>
        Listing((await backend.GetConfigAsync(context.CancellationToken)).Addresses);

    public override async Task<Wire.Empty> RouteAdd(Wire.RouteRequest request, ServerCallContext context) =>
        await Apply(context, "ip route add ", request.Spec, "spec");

    public override async Task<Wire.Empty> RouteDel(Wire.RouteRequest request, ServerCallContext context) =>
        await Apply(context, "ip route del ", request.Spec, "spec");

    public override async Task<Wire.Listing> RouteList(Wire.ListRequest request, ServerCallContext context) =>
        Listing((await backend.GetConfigAsync(context.CancellationToken)).Routes);

    public override async Task<Wire.Empty> RuleAdd(Wire.RuleRequest request, ServerCallContext context) =>
        await Apply(context, request.Position > 0 ? $"iptables -t nat -I POSTROUTING {request.Position} " : "iptables -t nat -A POSTROUTING ",
            request.Spec, "spec");

    public override async Task<Wire.Empty> RuleDel(Wire.RuleRequest request, ServerCallContext context) =>
        await Apply(context, "iptables -t nat -D POSTROUTING ", request.Spec, "spec");

    public override async Task<Wire.Listing> RuleList(Wire.ListRequest request, ServerCallContext context) =>
        Listing((await backend.GetConfigAsync(context.CancellationToken)).Rules);

    public override async Task<Wire.Empty> ApplyConfig(Wire.ConfigLines request, ServerCallContext context)
    {
        RequireToken(context);
        if (request.Lines.Count > FieldLimits.ConfigLines)
            throw PacketMapper.Invalid("lines", $"[{request.Lines.Count} lines]", $"more than {FieldLimits.ConfigLines} lines in one call");
        for (int i = 0; i < request.Lines.Count; i++)
            FieldLimits.Check(request.Lines[i], FieldLimits.ConfigLine, $"lines[{i}]");
        // All or none: the backend validates every line before applying any.
        var lines = request.Lines.ToList();
        if (lines.Count == 0) return Done;
        if (backend is not IAtomicConfig atomic)
        {
            for (int i = 0; i < lines.Count; i++) await ApplyLine(lines[i], $"lines[{i}]", context.CancellationToken);
            return Done;
        }
        try
        {
            await atomic.ApplyConfigAsync(lines, context.CancellationToken);
        }
        catch (ConfigLineException e)
        {
            throw Refused($"lines[{e.Index}]", lines[e.Index], e.InnerException!, " (no line of this call was applied)");
        }
        return Done;
    }

    public override async Task ConntrackList(Wire.ConntrackFilter request, IServerStreamWriter<Wire.ConntrackEntries> responses, ServerCallContext context)
    {
        var filter = PacketMapper.ToFilter(request);
        var records = await backend.ListAsync(filter, context.CancellationToken);
        int page = Math.Max(1, options.Value.ListPageSize);
        var msg = new Wire.ConntrackEntries();
        foreach (var r in records)
        {
            msg.Entries.Add(PacketMapper.ToApi(r));
            if (msg.Entries.Count == page)
            {
                await responses.WriteAsync(msg, context.CancellationToken);
                msg = new Wire.ConntrackEntries();
            }
        }
        if (msg.Entries.Count > 0) await responses.WriteAsync(msg, context.CancellationToken);
    }

    public override async Task<Wire.ConntrackEntry> ConntrackGet(Wire.ConntrackGetRequest request, ServerCallContext context)
    {
        var records = await backend.ListAsync(new ConntrackFilter(Id: request.Id), context.CancellationToken);
        if (records.Count == 0) throw new RpcException(new Status(StatusCode.NotFound, $"no conntrack entry with id={request.Id}"));
        return PacketMapper.ToApi(records[0]);
    }

    public override async Task<Wire.CountReply> ConntrackDelete(Wire.ConntrackFilter request, ServerCallContext context)
    {
        RequireToken(context);
        var filter = PacketMapper.ToFilter(request);
        return new Wire.CountReply { Count = (ulong)await backend.DeleteAsync(filter, context.CancellationToken) };
    }

    public override async Task<Wire.CountReply> ConntrackFlush(Wire.Empty request, ServerCallContext context)
    {
        RequireToken(context);
        return new Wire.CountReply { Count = (ulong)await backend.DeleteAsync(ConntrackFilter.All, context.CancellationToken) };
    }

    public override async Task<Wire.Listing> SysctlGet(Wire.SysctlRequest request, ServerCallContext context)
    {
        if (request.Keys.Count > 64) throw PacketMapper.Invalid("keys", $"[{request.Keys.Count} keys]", "more than 64 keys in one call");
        for (int i = 0; i < request.Keys.Count; i++) FieldLimits.Check(request.Keys[i], 256, $"keys[{i}]");
        var engine = SysctlEngine();
        long count = await backend.CountAsync(context.CancellationToken);
        if (request.Keys.Count == 0) return Listing(engine.SysctlListing(count).ToList());
        var lines = new List<string>();
        foreach (var key in request.Keys)
            lines.Add(engine.ReadSysctl(key, count) ?? throw new RpcException(new Status(StatusCode.NotFound,
                $"sysctl: cannot stat /proc/sys/{FieldLimits.Cut(ConntrackLimit.Normalize(key)).Replace('.', '/')}: No such file or directory")));
        return Listing(lines);
    }

    /// <summary>The engine whose sysctls this node reads: the in-process one, or the cluster's configuration version.</summary>
    private NatEngine SysctlEngine() => ((backend as MeteredNatBackend)?.Inner ?? backend) switch
    {
        LocalNatBackend local => local.Engine,
        ActorNat.Cluster.ClusterNatBackend cluster => cluster.Context.Config.Current.Engine,
        _ => throw new RpcException(new Status(StatusCode.Unimplemented, "this backend has no sysctls")),
    };

    public override async Task<Wire.CountReply> ConntrackCount(Wire.Empty request, ServerCallContext context) =>
        new() { Count = (ulong)await backend.CountAsync(context.CancellationToken) };

    public override async Task<Wire.StatsReply> ConntrackStats(Wire.Empty request, ServerCallContext context)
    {
        var stats = await backend.StatsAsync(context.CancellationToken);
        var node = new Wire.NodeStats { Node = options.Value.NodeName };
        foreach (var (name, value) in stats) node.Counters.Add(new Wire.Counter { Name = name, Value = value });
        return new Wire.StatsReply { Nodes = { node } };
    }

    /// <summary>The local backend is one member: itself, Up, leader, holding every entry. The cluster backend fills the table for real.</summary>
    public override async Task<Wire.ClusterStatusReply> ClusterStatus(Wire.Empty request, ServerCallContext context)
    {
        var o = options.Value;
        if ((backend is MeteredNatBackend m ? m.Inner : backend) is IClusterView view)
        {
            var members = await view.MembersAsync(context.CancellationToken);
            var reply = new Wire.ClusterStatusReply
            {
                Backend = o.Backend,
                Self = members.FirstOrDefault(x => x.IsSelf)?.Address ?? "",
                Leader = members.FirstOrDefault(x => x.IsLeader)?.Address ?? "",
            };
            foreach (var x in members)
                reply.Members.Add(new Wire.Member
                {
                    Address = x.Address, Roles = { x.Roles }, Status = x.Status, IsSelf = x.IsSelf, IsLeader = x.IsLeader,
                    Shards = (uint)x.Shards, Entries = (ulong)x.Entries, GrpcEndpoint = x.GrpcEndpoint,
                });
            return reply;
        }
        var count = await backend.CountAsync(context.CancellationToken);
        var self = o.Remoting ?? info.GrpcUrl;
        return new Wire.ClusterStatusReply
        {
            Backend = o.Backend,
            Self = self,
            Leader = self,
            Members =
            {
                new Wire.Member
                {
                    Address = self, Roles = { "nat" }, Status = "Up", IsSelf = true, IsLeader = true, Shards = 0,
                    Entries = (ulong)count, GrpcEndpoint = info.GrpcUrl, UpSinceUnixMs = info.StartedUnixMs,
                },
            },
        };
    }

    private async Task<Wire.Empty> Apply(ServerCallContext context, string prefix, string spec, string field)
    {
        RequireToken(context);
        if (string.IsNullOrWhiteSpace(spec)) throw PacketMapper.Invalid(field, "\"\"", "empty");
        FieldLimits.Check(spec, FieldLimits.ConfigLine, field);
        await ApplyLine(prefix + spec, field, context.CancellationToken);
        return Done;
    }

    private async Task ApplyLine(string line, string field, CancellationToken ct)
    {
        try
        {
            await backend.ApplyConfigAsync(line, ct);
        }
        catch (Exception e) when (e is ParseException or FormatException or ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            throw Refused(field, line, e, "");
        }
    }

    /// <summary>
    /// INVALID_ARGUMENT naming the field, the line and the wrong token, each cut to <see cref="FieldLimits.EchoChars"/>.
    /// Semantic refusals (an address that is not there, a route that does not exist) are not the caller's syntax, but
    /// still its argument.
    /// </summary>
    private static RpcException Refused(string field, string line, Exception e, string note)
    {
        if (e is ParseException p)
        {
            var token = FieldLimits.Cut(p.Token);
            return new RpcException(new Status(StatusCode.InvalidArgument,
                    $"invalid {field} \"{FieldLimits.Cut(line)}\": {FieldLimits.Cut(p.Message, 512)} (wrong token: \"{token}\"){note}"),
                new Metadata { { "field", field }, { "token", token } });
        }
        return new RpcException(new Status(StatusCode.InvalidArgument, $"invalid {field} \"{FieldLimits.Cut(line)}\": {FieldLimits.Cut(e.Message, 512)}{note}"),
            new Metadata { { "field", field } });
    }

    private static Wire.Listing Listing(IEnumerable<string> lines)
    {
        var l = new Wire.Listing();
        l.Lines.AddRange(lines);
        return l;
    }

    private void RequireToken(ServerCallContext context)
    {
        var expected = options.Value.AdminToken;
        if (string.IsNullOrEmpty(expected)) return;
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this admin call changes state and needs \"authorization: Bearer TOKEN\" (actornat --token)"));
        var given = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(expected)))
            throw new RpcException(new Status(StatusCode.PermissionDenied, "wrong admin token"));
    }
}

/// <summary>Facts about the running node that services report.</summary>
public sealed class NodeInfo
{
    public string GrpcUrl { get; set; } = "";
    public string? AdminUrl { get; set; }
    public long StartedUnixMs { get; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
