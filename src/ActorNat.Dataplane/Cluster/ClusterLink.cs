using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Dataplane.Cluster;

/// <summary>
/// The data plane's TranslateStream to the cluster. One batch in flight at a time (the node answers a stream's batches
/// in order, which keeps each flow's packets in order). When the node fails (stream error, no answer within the batch
/// deadline) the same batch is sent again on the next target: a flow's first packets carry idempotency keys, so a batch
/// the dead node had applied is not applied twice.
/// </summary>
public sealed class ClusterLink : IAsyncDisposable
{
    private readonly string[] _targets;
    private readonly GrpcChannel[] _channels;
    private readonly Metadata _headers;
    private readonly TimeSpan _batchDeadline;
    private readonly TimeSpan _giveUpAfter;
    private readonly TextWriter _log;
    private AsyncDuplexStreamingCall<Wire.PacketBatch, Wire.VerdictBatch>? _call;
    private CancellationTokenSource? _callCts;
    private int _current;
    private ulong _batchId;

    public ClusterLink(IReadOnlyList<string> targets, string? token, TimeSpan batchDeadline, TimeSpan giveUpAfter, TextWriter log)
    {
        if (targets.Count == 0) throw new ArgumentException("at least one --target is needed");
        _targets = [.. targets];
        _channels = [.. _targets.Select(t => GrpcChannel.ForAddress(t, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20 }))];
        _headers = new Metadata();
        if (!string.IsNullOrEmpty(token)) _headers.Add("authorization", "Bearer " + token);
        _batchDeadline = batchDeadline;
        _giveUpAfter = giveUpAfter;
        _log = log;
    }

    public string Current => _targets[_current];
    public long Reconnects { get; private set; }
    public long Batches { get; private set; }

    /// <summary>Opens the stream with an empty batch (HTTP/2 connection, both sides' code paths warm), so the first real packet does not wait for them.</summary>
    public Task WarmUpAsync(CancellationToken ct) => SendAsync([], ct);

    /// <summary>The verdicts for <paramref name="packets"/>, from whichever target answers; throws only after <c>giveUpAfter</c> of failures.</summary>
    public async Task<Wire.VerdictBatch> SendAsync(IReadOnlyList<Wire.PacketMeta> packets, CancellationToken ct)
    {
        var batch = new Wire.PacketBatch { BatchId = ++_batchId };
        batch.Packets.AddRange(packets);
        var started = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                var call = _call ??= Open();
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(_batchDeadline);
                await call.RequestStream.WriteAsync(batch, deadline.Token);
                if (!await call.ResponseStream.MoveNext(deadline.Token))
                    throw new RpcException(new Status(StatusCode.Unavailable, "the node ended the stream"));
                var answer = call.ResponseStream.Current;
                if (answer.BatchId != batch.BatchId || answer.Verdicts.Count != packets.Count)
                    throw new InvalidOperationException($"the node answered batch {answer.BatchId} with {answer.Verdicts.Count} verdicts for batch {batch.BatchId} of {packets.Count}");
                Batches++;
                return answer;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                Reset();
                throw; // a malformed packet: the caller drops this batch (counted); retrying cannot help
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is RpcException or IOException or OperationCanceledException or InvalidOperationException or HttpRequestException)
            {
                Reset();
                if (DateTime.UtcNow - started > _giveUpAfter) throw new TimeoutException($"no node answered within {_giveUpAfter.TotalSeconds:0} s (last: {e.Message})", e);
                var failed = Current;
                _current = (_current + 1) % _targets.Length;
                Reconnects++;
                _log.WriteLine($"dataplane: {failed} failed ({Describe(e)}); batch {batch.BatchId} goes to {Current}");
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(1000, delay.TotalMilliseconds * 2));
            }
        }
    }

    private static string Describe(Exception e) => e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : $"{e.GetType().Name}: {e.Message}";

    private AsyncDuplexStreamingCall<Wire.PacketBatch, Wire.VerdictBatch> Open()
    {
        _callCts = new CancellationTokenSource();
        var client = new Wire.NatService.NatServiceClient(_channels[_current]);
        return client.TranslateStream(_headers, cancellationToken: _callCts.Token);
    }

    private void Reset()
    {
        try { _callCts?.Cancel(); } catch (ObjectDisposedException) { }
        _call?.Dispose();
        _callCts?.Dispose();
        _call = null;
        _callCts = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_call is not null)
        {
            try { await _call.RequestStream.CompleteAsync(); } catch (Exception) { /* the node may be gone */ }
        }
        Reset();
        foreach (var c in _channels) c.Dispose();
    }
}
