using System.Runtime.InteropServices;

namespace ActorNat.Node.Health;

/// <summary>
/// SIGTERM/SIGINT: the first one is left to the host (graceful shutdown: readiness turns 503, gRPC health
/// NOT_SERVING, streams end between batches, in-flight calls complete within ShutdownTimeout, then — with the cluster
/// backend — hand-off). A second one while that runs exits at once with 128+signal.
/// </summary>
internal sealed class ShutdownSignals(IHostApplicationLifetime lifetime, ILogger<ShutdownSignals> log) : IHostedService, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _count;

    public Task StartAsync(CancellationToken ct)
    {
        if (OperatingSystem.IsWindows()) return Task.CompletedTask;
        foreach (var sig in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
            _registrations.Add(PosixSignalRegistration.Create(sig, OnSignal));
        return Task.CompletedTask;
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _count) == 1)
        {
            log.LogInformation("{Signal}: graceful shutdown (send it again to exit at once)", context.Signal);
            context.Cancel = true;
            lifetime.StopApplication();
            return;
        }
        int code = 128 + (context.Signal == PosixSignal.SIGINT ? 2 : 15);
        log.LogWarning("second {Signal}: exiting now with {Code}", context.Signal, code);
        // The logger writes from a queue that exiting does not wait for: say it on stderr too, synchronously.
        Console.Error.WriteLine($"actornat node: second {context.Signal}: exiting now with {code}");
        Console.Error.Flush();
        context.Cancel = false; // the default action of the signal: terminate (if no other handler cancels it)
        var t = new Thread(() => Environment.Exit(code)) { IsBackground = true };
        t.Start();
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public void Dispose()
    {
        // Kept registered through StopAsync on purpose: the second signal must work while the host stops.
        foreach (var r in _registrations) r.Dispose();
    }
}
