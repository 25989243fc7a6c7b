using Grpc.Core;
using Grpc.Core.Interceptors;

namespace ActorNat.Node;

/// <summary>
/// Limits on every string a caller sends, and the one way a caller's value is echoed back: cut to
/// <see cref="EchoChars"/> characters with its length. A grpc-message or trailer carrying a caller's megabyte breaks
/// HTTP/2 clients (HPACK limits), and every later call on that connection with it.
/// </summary>
public static class FieldLimits
{
    /// <summary>Characters of a caller's value an error message repeats.</summary>
    public const int EchoChars = 128;
    /// <summary>A dotted quad is at most 15 characters; anything longer is refused before parsing.</summary>
    public const int Address = 15;
    /// <summary>Linux IFNAMSIZ - 1.</summary>
    public const int InterfaceName = 15;
    public const int IdempotencyKey = 128;
    /// <summary>One `ip …`/`iptables …` line (or a spec).</summary>
    public const int ConfigLine = 4096;
    /// <summary>Lines in one ApplyConfig call.</summary>
    public const int ConfigLines = 10_000;
    public const int StateName = 16;
    /// <summary>Any status detail this node sends (a last guard for messages built elsewhere).</summary>
    public const int StatusDetail = 1024;
    /// <summary>Any trailer value this node sends.</summary>
    public const int TrailerValue = 256;

    /// <summary>The value, or its first <see cref="EchoChars"/> characters followed by "…(N characters)".</summary>
    public static string Cut(string? value, int max = EchoChars)
    {
        if (value is null) return "";
        return value.Length <= max ? value : $"{value[..max]}…({value.Length} characters)";
    }

    /// <summary>INVALID_ARGUMENT when <paramref name="value"/> is longer than <paramref name="max"/> characters.</summary>
    public static void Check(string? value, int max, string field)
    {
        if (value is not null && value.Length > max)
            throw PacketMapper.Invalid(field, $"\"{Cut(value)}\"", $"longer than {max} characters");
    }
}

/// <summary>
/// The outermost interceptor: whatever a handler threw, the status detail and trailers that leave this node are bounded
/// (<see cref="FieldLimits.StatusDetail"/>, <see cref="FieldLimits.TrailerValue"/>).
/// </summary>
internal sealed class BoundedErrorInterceptor : Interceptor
{
    private static RpcException Bound(RpcException e)
    {
        bool cut = e.Status.Detail.Length > FieldLimits.StatusDetail || e.Trailers.Any(t => !t.IsBinary && t.Value.Length > FieldLimits.TrailerValue);
        if (!cut) return e;
        var trailers = new Metadata();
        foreach (var t in e.Trailers)
            if (t.IsBinary) trailers.Add(t.Key, t.ValueBytes.Length > FieldLimits.TrailerValue ? t.ValueBytes[..FieldLimits.TrailerValue] : t.ValueBytes);
            else trailers.Add(t.Key, FieldLimits.Cut(t.Value, FieldLimits.TrailerValue));
        return new RpcException(new Status(e.StatusCode, FieldLimits.Cut(e.Status.Detail, FieldLimits.StatusDetail)), trailers);
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(request, context); }
        catch (RpcException e) { throw Bound(e); }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(request, responseStream, context); }
        catch (RpcException e) { throw Bound(e); }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(requestStream, context); }
        catch (RpcException e) { throw Bound(e); }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(requestStream, responseStream, context); }
        catch (RpcException e) { throw Bound(e); }
    }
}
