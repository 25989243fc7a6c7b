using ActorNat.Node.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ActorNat.Node.Health;

/// <summary>
/// Whether the backend can serve. The cluster backend implements this (on itself, or registered in DI): ready once
/// this node has joined the cluster and its shard regions have started, not ready again once it leaves.
/// A backend that does not implement it is ready as soon as the node has started (its configuration file applied).
/// </summary>
public interface IReadiness
{
    /// <summary>Ready, or not with a short reason ("joining cluster", "regions starting", …). Called by probes: cheap.</summary>
    ValueTask<(bool Ready, string Reason)> CheckAsync(CancellationToken ct);
}

/// <summary>The HTTP probe paths, served on the metrics endpoint.</summary>
public static class HealthEndpoints
{
    /// <summary>200 while the process serves HTTP at all (restart it if this fails).</summary>
    public const string Live = "/healthz/live";

    /// <summary>200 once the node is started and the backend ready; 503 before, and from the moment shutdown begins.</summary>
    public const string Ready = "/healthz/ready";

    public const string Metrics = "/metrics";

    public const string ReadyTag = "ready";
}

/// <summary>Readiness: the node has started, is not stopping, and the backend (if it can tell) is ready. Also feeds gRPC health.</summary>
internal sealed class ReadinessCheck(IHostApplicationLifetime lifetime, NatMetrics metrics, IReadiness? backend = null) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        (bool ok, string why) = (true, "ready");
        if (lifetime.ApplicationStopping.IsCancellationRequested) (ok, why) = (false, "shutting down");
        else if (!lifetime.ApplicationStarted.IsCancellationRequested) (ok, why) = (false, "starting");
        else if (backend is not null) (ok, why) = await backend.CheckAsync(ct).ConfigureAwait(false);
        metrics.SetReady(ok);
        return ok ? HealthCheckResult.Healthy(why) : HealthCheckResult.Unhealthy(why);
    }
}
