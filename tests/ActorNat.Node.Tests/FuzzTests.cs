using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// Seeded random valid and malformed packets, unary and in batches, through a live node. Afterwards the node still
/// serves and its table holds exactly the entries that accepted valid packets created.
/// </summary>
public class FuzzTests
{
    private static readonly string[] Destinations = ["192.0.2.53", "192.0.2.80", "192.0.2.81", "198.51.100.1"];
    private static readonly string[] Sources = ["172.18.0.2", "172.18.0.3", "172.18.1.9", "10.0.2.99"];

    private static Wire.PacketMeta Valid(Random r)
    {
        var src = Sources[r.Next(Sources.Length)];
        var dst = Destinations[r.Next(Destinations.Length)];
        switch (r.Next(3))
        {
            case 0: return LiveNode.Udp(src, (uint)r.Next(1, 65536), dst, (uint)r.Next(1, 1024));
            case 1: return LiveNode.Tcp(src, (uint)r.Next(1024, 65536), dst, 80, LiveNode.Syn, (uint)r.Next());
            default:
                return new Wire.PacketMeta
                {
                    Protocol = Wire.IpProtocol.Icmp, SrcAddress = src, DstAddress = dst, IcmpType = 8, IcmpCode = 0, IcmpId = (uint)r.Next(65536),
                    PayloadLength = (uint)r.Next(0, 1500),
                };
        }
    }

    private static Wire.PacketMeta Malformed(Random r)
    {
        var p = Valid(r);
        bool icmp = p.Protocol == Wire.IpProtocol.Icmp;
        switch (r.Next(10))
        {
            case 0: p.SrcAddress = Garbage(r); break;
            case 1: p.DstAddress = Garbage(r); break;
            case 2: p.Protocol = (Wire.IpProtocol)new[] { 0, 2, 4, 41, 58, 132, 255, 100000 }[r.Next(8)]; break;
            case 3: if (icmp) p.SrcPort = (uint)r.Next(1, int.MaxValue); else p.SrcPort = (uint)r.Next(65536, int.MaxValue); break;
            case 4: if (icmp) p.DstPort = (uint)r.Next(1, 100); else p.DstPort = 65536u + (uint)r.Next(1000); break;
            case 5: if (icmp) p.IcmpType = (uint)r.Next(256, 100000); else p.IcmpType = (uint)r.Next(256); break;
            case 6: if (icmp) p.IcmpId = (uint)r.Next(65536, int.MaxValue); else p.IcmpCode = 0; break;
            case 7: if (p.Protocol == Wire.IpProtocol.Tcp) p.TcpFlags = 0x40u | (uint)r.Next(1, 1000); else p.TcpFlags = (uint)r.Next(1, 64); break;
            case 8: p.PayloadLength = (uint)r.Next(65536, int.MaxValue); break;
            default: if (icmp) p.TcpSeq = (uint)r.Next(1, int.MaxValue); else p.SrcAddress = ""; break;
        }
        return p;
    }

    private static string Garbage(Random r) => r.Next(6) switch
    {
        0 => "",
        1 => $"{r.Next(256, 1000)}.0.0.1",
        2 => "10.0.0",
        3 => "::1",
        4 => $"{r.Next(256)}.{r.Next(256)}.{r.Next(256)}.{r.Next(256)}.{r.Next(256)}",
        _ => new string(Enumerable.Range(0, r.Next(1, 20)).Select(_ => (char)r.Next(33, 127)).ToArray()),
    };

    private static string Key(Wire.Tuple t) => t.Protocol == Wire.IpProtocol.Icmp
        ? $"icmp {t.SrcAddress} {t.DstAddress} type={t.IcmpType} code={t.IcmpCode} id={t.IcmpId}"
        : $"{t.Protocol} {t.SrcAddress}:{t.SrcPort} {t.DstAddress}:{t.DstPort}";

    [Fact]
    public async Task Random_valid_and_malformed_traffic_leaves_only_what_valid_packets_created()
    {
        await using var n = await LiveNode.StartArticleAsync(new() { ["ActorNat:MaxBatchSize"] = "32" });
        var r = new Random(20240611);
        var created = new HashSet<string>();
        int unaryOk = 0, unaryRejected = 0, batchesOk = 0, batchesRejected = 0, drops = 0;

        using var stream = n.Nat.TranslateStream();
        ulong batchId = 0;
        for (int round = 0; round < 600; round++)
        {
            if (r.Next(2) == 0)
            {
                bool bad = r.Next(10) < 3;
                var p = bad ? Malformed(r) : Valid(r);
                try
                {
                    var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = p });
                    Assert.False(bad, $"malformed packet accepted: {p}");
                    unaryOk++;
                    if (v.Created) Assert.True(created.Add(Key(v.Original)));
                    if (v.Action == Wire.VerdictAction.Drop) drops++;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
                {
                    Assert.True(bad, $"valid packet refused: {p}: {e.Status.Detail}");
                    unaryRejected++;
                }
                continue;
            }

            // A batch: 1-40 packets (over the maximum of 32 sometimes), malformed ones sometimes.
            int size = r.Next(1, 41);
            bool withBad = r.Next(4) == 0;
            var batch = new Wire.PacketBatch { BatchId = ++batchId };
            int badIndex = withBad ? r.Next(size) : -1;
            for (int i = 0; i < size; i++) batch.Packets.Add(i == badIndex ? Malformed(r) : Valid(r));
            bool refuse = withBad || size > 32;
            // A refused batch ends its stream, so such batches go on a stream of their own.
            if (refuse)
            {
                using var own = n.Nat.TranslateStream();
                await own.RequestStream.WriteAsync(batch);
                await own.RequestStream.CompleteAsync();
                var e = await Assert.ThrowsAsync<RpcException>(async () => await own.ResponseStream.MoveNext());
                Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
                batchesRejected++;
                continue;
            }
            await stream.RequestStream.WriteAsync(batch);
            Assert.True(await stream.ResponseStream.MoveNext());
            var answer = stream.ResponseStream.Current;
            Assert.Equal(batch.BatchId, answer.BatchId);
            Assert.Equal(size, answer.Verdicts.Count);
            foreach (var v in answer.Verdicts)
            {
                if (v.Created) Assert.True(created.Add(Key(v.Original)));
                if (v.Action == Wire.VerdictAction.Drop) drops++;
            }
            batchesOk++;
        }
        await stream.RequestStream.CompleteAsync();
        Assert.False(await stream.ResponseStream.MoveNext());

        // Every path was exercised.
        Assert.True(unaryOk > 100 && unaryRejected > 20 && batchesOk > 100 && batchesRejected > 20,
            $"unary ok={unaryOk} rejected={unaryRejected}, batches ok={batchesOk} rejected={batchesRejected}");
        Assert.True(drops > 0, "the 15-port TCP range should have run out for some flows");

        // The table holds exactly what valid packets created.
        var entries = await n.ListAsync();
        Assert.Equal(created.Count, entries.Count);
        Assert.Equal(created.OrderBy(x => x), entries.Select(e => Key(e.Original)).OrderBy(x => x));
        Assert.Equal((ulong)created.Count, await n.CountAsync());

        // And the node still serves.
        var health = new Grpc.Health.V1.Health.HealthClient(n.Channel);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving,
            (await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest())).Status);
        var last = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.200", 4242, "192.0.2.53", 53) });
        Assert.Equal(Wire.VerdictAction.Translate, last.Action);
        Assert.True(last.Created);
    }
}
