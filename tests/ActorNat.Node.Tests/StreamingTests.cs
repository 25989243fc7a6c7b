using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

public class StreamingTests
{
    /// <summary>
    /// 300 TCP flows, each a full handshake (SYN out, SYN/ACK back, ACK out), interleaved across batches of 64 that the
    /// client writes all at once without waiting. Only in-order handling per flow ends every entry in ESTABLISHED
    /// [ASSURED]; a reordered SYN/ACK would be a new connection from the server side.
    /// </summary>
    [Fact]
    public async Task Burst_keeps_per_flow_order_and_answers_every_batch_in_order()
    {
        await using var n = await LiveNode.StartAsync();
        await n.Admin.ApplyConfigAsync(new Wire.ConfigLines
        {
            Lines =
            {
                "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2",
                // Without --to-ports the client port is kept, so the client knows the reply's port before the first verdict.
                "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
            },
        }, n.Auth);

        const int flows = 300, batchSize = 64;
        var packets = new List<(int Flow, int Step, Wire.PacketMeta Packet)>();
        for (int step = 0; step < 3; step++)
            for (int f = 0; f < flows; f++)
            {
                uint sport = (uint)(20000 + f);
                var p = step switch
                {
                    0 => LiveNode.Tcp("172.18.0.2", sport, "192.0.2.80", 80, LiveNode.Syn, 1000),
                    1 => LiveNode.Tcp("192.0.2.80", 80, "10.0.2.15", sport, LiveNode.Syn | LiveNode.Ack, 5000),
                    _ => LiveNode.Tcp("172.18.0.2", sport, "192.0.2.80", 80, LiveNode.Ack, 1001),
                };
                packets.Add((f, step, p));
            }
        var batches = packets.Chunk(batchSize).ToList();

        using var call = n.Nat.TranslateStream();
        var writer = Task.Run(async () =>
        {
            for (int b = 0; b < batches.Count; b++)
                await call.RequestStream.WriteAsync(new Wire.PacketBatch { BatchId = (ulong)b + 1, Packets = { batches[b].Select(x => x.Packet) } });
            await call.RequestStream.CompleteAsync();
        });
        var answers = new List<Wire.VerdictBatch>();
        await foreach (var a in call.ResponseStream.ReadAllAsync()) answers.Add(a);
        await writer;

        Assert.Equal(Enumerable.Range(1, batches.Count).Select(i => (ulong)i), answers.Select(a => a.BatchId));
        var verdicts = answers.SelectMany(a => a.Verdicts).ToList();
        Assert.Equal(packets.Count, verdicts.Count);
        var ids = new ulong[flows];
        for (int i = 0; i < packets.Count; i++)
        {
            var (f, step, _) = packets[i];
            var v = verdicts[i];
            Assert.Equal(Wire.VerdictAction.Translate, v.Action);
            if (step == 0) { Assert.True(v.Created); ids[f] = v.ConntrackId; }
            else Assert.Equal(ids[f], v.ConntrackId);
            Assert.Equal(step == 1 ? Wire.PacketDirection.Reply : Wire.PacketDirection.Original, v.Direction);
            if (step == 1) Assert.Equal($"172.18.0.2:{20000 + f}", $"{v.Rewritten.DstAddress}:{v.Rewritten.DstPort}");
        }
        var entries = await n.ListAsync();
        Assert.Equal(flows, entries.Count);
        Assert.All(entries, e => { Assert.Equal("ESTABLISHED", e.State); Assert.True(e.Assured); });
    }

    [Fact]
    public async Task Oversized_batch_is_invalid_argument_and_applies_nothing()
    {
        await using var n = await LiveNode.StartArticleAsync(new() { ["ActorNat:MaxBatchSize"] = "16" });
        using var call = n.Nat.TranslateStream();
        await call.RequestStream.WriteAsync(new Wire.PacketBatch { BatchId = 1, Packets = { LiveNode.Udp("172.18.0.2", 1000, "192.0.2.53", 53) } });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Single(call.ResponseStream.Current.Verdicts);
        await call.RequestStream.WriteAsync(new Wire.PacketBatch
        {
            BatchId = 2,
            Packets = { Enumerable.Range(0, 17).Select(i => LiveNode.Udp("172.18.0.2", (uint)(2000 + i), "192.0.2.53", 53)) },
        });
        var e = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("packets=[17 packets]", e.Status.Detail);
        Assert.Contains("maximum of 16", e.Status.Detail);
        Assert.Equal(1ul, await n.CountAsync());
    }

    [Fact]
    public async Task Health_is_serving_and_reflection_lists_the_services()
    {
        await using var n = await LiveNode.StartAsync();
        var health = new Grpc.Health.V1.Health.HealthClient(n.Channel);
        var h = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, h.Status);

        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(n.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("actornat.v1.NatService", names);
        Assert.Contains("actornat.v1.AdminService", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }
}
