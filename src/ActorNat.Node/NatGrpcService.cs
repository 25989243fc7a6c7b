using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node;

/// <summary>The packet path: unary and streamed verdicts, every field validated before anything is applied.</summary>
public sealed class NatGrpcService(INatBackend backend, IOptions<NodeOptions> options, IHostApplicationLifetime lifetime)
    : Wire.NatService.NatServiceBase
{
    public override async Task<Wire.Verdict> Translate(Wire.TranslateRequest request, ServerCallContext context)
    {
        var packet = PacketMapper.ToPacket(request.Packet);
        var verdict = await backend.TranslateAsync(packet, context.CancellationToken);
        var reply = PacketMapper.ToApi(verdict, packet, request.Packet.IdempotencyKey, request.Packet.HasSrcIp);
        if (request.WithEntry) await FillEntry(reply, context.CancellationToken);
        return reply;
    }

    /// <summary>State, flags and timeout of the verdict's entry (one lookup), for a request that asked for them.</summary>
    private async Task FillEntry(Wire.Verdict reply, CancellationToken ct)
    {
        if (reply.ConntrackId == 0) return;
        var records = await backend.ListAsync(new ConntrackFilter(Id: reply.ConntrackId), ct);
        if (records.Count == 0) return;
        var e = PacketMapper.ToApi(records[0]);
        reply.State = e.State;
        if (e.Unreplied) reply.Flags.Add("UNREPLIED");
        if (e.Assured) reply.Flags.Add("ASSURED");
        reply.TimeoutSeconds = e.TimeoutSeconds;
    }

    /// <summary>
    /// One batch at a time: read, validate all, translate all, answer, then read the next. The next batch waits in
    /// HTTP/2 flow-control windows, so a fast client cannot make the node buffer more than one batch per stream.
    /// On shutdown the stream is ended (UNAVAILABLE) between batches, never in the middle of one.
    /// </summary>
    public override async Task TranslateStream(IAsyncStreamReader<Wire.PacketBatch> requests,
        IServerStreamWriter<Wire.VerdictBatch> responses, ServerCallContext context)
    {
        int max = options.Value.MaxBatchSize;
        var stopping = lifetime.ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, stopping);
        var packets = new List<Packet>();
        try
        {
            while (await requests.MoveNext(linked.Token))
            {
                var batch = requests.Current;
                if (batch.Packets.Count > max)
                    throw PacketMapper.Invalid("packets", $"[{batch.Packets.Count} packets]", $"batch {batch.BatchId} exceeds the maximum of {max}");
                packets.Clear();
                for (int i = 0; i < batch.Packets.Count; i++)
                    packets.Add(PacketMapper.ToPacket(batch.Packets[i], $"batch {batch.BatchId} packets[{i}]"));
                // The batch is applied whole even if the node begins to stop meanwhile: its answer is owed.
                var verdicts = await backend.TranslateBatchAsync(packets, CancellationToken.None);
                var answer = new Wire.VerdictBatch { BatchId = batch.BatchId };
                for (int i = 0; i < verdicts.Length; i++)
                {
                    var reply = PacketMapper.ToApi(verdicts[i], packets[i], batch.Packets[i].IdempotencyKey, batch.Packets[i].HasSrcIp);
                    if (batch.Packets[i].WithEntry) await FillEntry(reply, CancellationToken.None);
                    answer.Verdicts.Add(reply);
                }
                await responses.WriteAsync(answer, context.CancellationToken);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "node is shutting down; resend unanswered batches to another node"));
        }
    }
}
