using System.Collections.Concurrent;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using ActorNat.Node.Metrics;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>Graceful shutdown under a stream of requests: nothing acknowledged is lost, nothing refused was applied.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task Graceful_stop_under_load_fails_no_acknowledged_request()
    {
        await using var n = await LiveNode.StartArticleAsync();
        const int clients = 4;
        var acked = new ConcurrentBag<uint>();
        var refused = new ConcurrentBag<(uint Port, StatusCode Code)>();
        var enoughAcks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var streamAcked = new ConcurrentBag<uint>();

        async Task Client(int c)
        {
            for (uint i = 0; ; i++)
            {
                uint port = (uint)(10000 + c * 10000 + i);
                try
                {
                    var v = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", port, "192.0.2.53", 53) });
                    Assert.Equal(Wire.VerdictAction.Translate, v.Action);
                    acked.Add(port);
                    if (acked.Count >= 300) enoughAcks.TrySetResult();
                }
                catch (RpcException e)
                {
                    refused.Add((port, e.StatusCode));
                    return; // the node is going; a real client would resend to another node
                }
            }
        }

        async Task Streamer()
        {
            using var call = n.Nat.TranslateStream();
            try
            {
                for (uint b = 0; ; b++)
                {
                    var batch = new Wire.PacketBatch { BatchId = b + 1 };
                    for (uint i = 0; i < 20; i++) batch.Packets.Add(LiveNode.Udp("172.18.0.5", 1024 + b * 20 + i, "192.0.2.53", 53));
                    await call.RequestStream.WriteAsync(batch);
                    if (!await call.ResponseStream.MoveNext()) return;
                    Assert.Equal(b + 1, call.ResponseStream.Current.BatchId);
                    Assert.Equal(20, call.ResponseStream.Current.Verdicts.Count);
                    for (uint i = 0; i < 20; i++) streamAcked.Add(1024 + b * 20 + i);
                }
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException)
            {
                // ended by the shutdown (UNAVAILABLE), or the write side closed under us
            }
        }

        var load = Enumerable.Range(0, clients).Select(c => Task.Run(() => Client(c))).Append(Task.Run(Streamer)).ToList();
        await enoughAcks.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await n.Node.StopAsync();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(60));

        var engine = ((LocalNatBackend)((MeteredNatBackend)n.Node.Backend).Inner).Engine;
        var applied = engine.Entries().Where(e => e.Original.Proto == Protocol.Udp).Select(e => (e.Original.Src.ToString(), (uint)e.Original.SPort)).ToHashSet();
        Assert.True(acked.Count >= 300);
        Assert.Equal(clients, refused.Count);
        Assert.All(acked, p => Assert.Contains(("172.18.0.2", p), applied));        // every acknowledged request took effect
        Assert.All(refused, r => Assert.DoesNotContain(("172.18.0.2", r.Port), applied)); // every refused one did not
        Assert.All(refused, r => Assert.Equal(StatusCode.Unavailable, r.Code));    // and was refused cleanly
        Assert.All(streamAcked, p => Assert.Contains(("172.18.0.5", p), applied));
        // Nothing was applied that was neither acknowledged nor still owed an answer: at most one batch per stream.
        Assert.InRange(applied.Count(a => a.Item1 == "172.18.0.2") - acked.Count, 0, 0);
        Assert.InRange(applied.Count(a => a.Item1 == "172.18.0.5") - streamAcked.Count, 0, 20);
    }
}
