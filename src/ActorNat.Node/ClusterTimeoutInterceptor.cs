using ActorNat.Cluster;
using ActorNat.Node.Metrics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace ActorNat.Node;

/// <summary>
/// When the cluster does not answer in time (Akka's AskTimeoutException, or a TimeoutException), the caller gets
/// UNAVAILABLE with what happened and what to do — not UNKNOWN "Exception was thrown by handler" — the timeout is
/// counted (actornat_request_timeouts_total) and logged at most once per <see cref="LogEvery"/> with the number
/// since the last line, instead of a stack trace per request while the cluster is in trouble.
/// </summary>
internal sealed class ClusterTimeoutInterceptor(NatMetrics metrics, ILogger<ClusterTimeoutInterceptor> log, NatNodeContext? cluster = null) : Interceptor
{
    public static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private const string NatServicePrefix = "/actornat.v1.NatService/";

    private readonly Lock _gate = new();
    private DateTime _lastLog = DateTime.MinValue;
    private long _unlogged;

    private static bool IsTimeout(Exception e) => e is Akka.Actor.AskTimeoutException or TimeoutException;

    /// <summary>How long the node waited: a verdict's attempts, or an administrative call's ask timeout.</summary>
    private string Budget(string method)
    {
        if (cluster is null) return "in time";
        var o = cluster.Options;
        var wait = method.StartsWith(NatServicePrefix, StringComparison.Ordinal) ? o.AttemptTimeout * o.Attempts : o.AskTimeout;
        return $"within {wait.TotalSeconds:0.#} s";
    }

    private RpcException Unavailable(Exception e, ServerCallContext context)
    {
        var method = context.Method;
        var name = method[(method.LastIndexOf('/') + 1)..];
        metrics.CountRequestTimeout(name);
        long suppressed = -1;
        lock (_gate)
        {
            var now = DateTime.UtcNow;
            if (now - _lastLog >= LogEvery)
            {
                suppressed = _unlogged;
                _unlogged = 0;
                _lastLog = now;
            }
            else _unlogged++;
        }
        if (suppressed >= 0)
            log.LogWarning("the cluster did not answer {Method} {Budget} ({Error}); {Suppressed} more timeouts since the last such line were not logged",
                name, Budget(method), e.Message, suppressed);
        // A fenced node refuses at once: say why, and that only another node can answer now.
        return e is ActorNat.Cluster.Fencing.NodeFencedException
            ? new RpcException(new Status(StatusCode.Unavailable, $"{e.Message}; retry on another node"))
            : new RpcException(new Status(StatusCode.Unavailable, $"the cluster did not answer {Budget(method)}; retry (this node or another)"));
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTimeout(e))
        {
            throw Unavailable(e, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTimeout(e))
        {
            throw Unavailable(e, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTimeout(e))
        {
            throw Unavailable(e, context);
        }
    }
}
