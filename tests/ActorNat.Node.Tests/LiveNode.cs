using ActorNat.Node;
using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>A node on real Kestrel, 127.0.0.1 port 0, with clients bound to it. Started before the test, stopped after.</summary>
public sealed class LiveNode : IAsyncDisposable
{
    public const string Token = "s3cret-token";

    /// <summary>The article's router (oracle scenario "article", router namespace).</summary>
    public static readonly string[] ArticleConfig =
    [
        "ip addr add 172.18.0.1/16 dev docker0",
        "ip addr add 10.0.2.15/24 dev eth0",
        "ip addr add 203.0.113.56/24 dev eth0",
        "ip route add default via 10.0.2.2",
        "ip route add 198.51.100.1 via 203.0.113.4 dev eth0",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
    ];

    private readonly GrpcChannel _channel;
    private readonly GrpcChannel? _adminChannel;

    private LiveNode(NatNode node)
    {
        Node = node;
        _channel = GrpcChannel.ForAddress(node.GrpcUrl);
        Nat = new Wire.NatService.NatServiceClient(_channel);
        if (node.AdminUrl != node.GrpcUrl) _adminChannel = GrpcChannel.ForAddress(node.AdminUrl);
        Admin = new Wire.AdminService.AdminServiceClient(_adminChannel ?? _channel);
    }

    public NatNode Node { get; }
    public Wire.NatService.NatServiceClient Nat { get; }
    public Wire.AdminService.AdminServiceClient Admin { get; }
    public GrpcChannel Channel => _channel;
    public Metadata Auth { get; } = new() { { "authorization", "Bearer " + Token } };

    public static async Task<LiveNode> StartAsync(Dictionary<string, string?>? settings = null, ILoggerProvider? logs = null)
    {
        var o = new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:AdminToken"] = Token,
            ["ActorNat:RandomSeed"] = "42",
        };
        foreach (var (k, v) in settings ?? []) o[k] = v;
        var node = NatNode.Create([], o, configureLogging: l =>
        {
            l.ClearProviders();
            if (logs is not null) l.AddProvider(logs);
        });
        try
        {
            await node.StartAsync();
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
        return new LiveNode(node);
    }

    public static async Task<LiveNode> StartArticleAsync(Dictionary<string, string?>? settings = null)
    {
        var live = await StartAsync(settings);
        await live.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { ArticleConfig } }, live.Auth);
        return live;
    }

    public async Task<List<Wire.ConntrackEntry>> ListAsync(Wire.ConntrackFilter? filter = null)
    {
        var all = new List<Wire.ConntrackEntry>();
        using var call = Admin.ConntrackList(filter ?? new Wire.ConntrackFilter());
        await foreach (var page in call.ResponseStream.ReadAllAsync()) all.AddRange(page.Entries);
        return all;
    }

    public async Task<ulong> CountAsync() => (await Admin.ConntrackCountAsync(new Wire.Empty())).Count;

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        _adminChannel?.Dispose();
        await Node.StopAsync();
        await Node.DisposeAsync();
    }

    public static Wire.PacketMeta Udp(string src, uint sport, string dst, uint dport) =>
        new() { Protocol = Wire.IpProtocol.Udp, SrcAddress = src, SrcPort = sport, DstAddress = dst, DstPort = dport };

    public static Wire.PacketMeta Tcp(string src, uint sport, string dst, uint dport, uint flags, uint seq = 0) =>
        new() { Protocol = Wire.IpProtocol.Tcp, SrcAddress = src, SrcPort = sport, DstAddress = dst, DstPort = dport, TcpFlags = flags, TcpSeq = seq };

    public const uint Syn = 0x02, Ack = 0x10, Fin = 0x01, Rst = 0x04;
}
