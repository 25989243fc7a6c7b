using System.Runtime.InteropServices;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace ActorNat.Node.Tests;

/// <summary>SIGTERM on the real `actornat node` process: once is a graceful stop (exit 0), twice exits at once (143).</summary>
public class SignalTests
{
    private static readonly string[] Args = ["--backend", "local", "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"];

    [Fact]
    public async Task One_sigterm_stops_the_node_gracefully_with_exit_code_0()
    {
        await using var node = await NodeProcess.StartAsync(Args);
        node.Signal(PosixSignal.SIGTERM);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(node.ExitCode == 0, $"exit code {node.ExitCode}:\n{node.Output}");
        Assert.Contains("SIGTERM: graceful shutdown", node.Output);
    }

    [Fact]
    public async Task A_second_sigterm_during_a_long_graceful_stop_exits_at_once_with_143()
    {
        // The graceful stop waits (up to the 120 s shutdown timeout) for in-flight calls: a gRPC health Watch stream
        // stays open until its client leaves, so this stop would take the whole timeout.
        await using var node = await NodeProcess.StartAsync([.. Args, "--shutdown-timeout", "120"]);
        using var channel = GrpcChannel.ForAddress(node.GrpcUrl);
        using var watch = new Grpc.Health.V1.Health.HealthClient(channel).Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None), "the health watch answers");

        node.Signal(PosixSignal.SIGTERM);
        await node.WaitForLineAsync(l => l.Contains("SIGTERM: graceful shutdown"), TimeSpan.FromSeconds(30), "the graceful shutdown line");
        // Shutting down, and held by the open stream: readiness went NOT_SERVING on it, the process still runs.
        await node.WaitForLineAsync(l => l.Contains("shutting down"), TimeSpan.FromSeconds(30), "readiness turning not ready");
        Assert.False(node.HasExited, "the graceful stop is still waiting for the open stream");

        node.Signal(PosixSignal.SIGTERM);
        var took = await node.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(node.ExitCode == 143, $"exit code {node.ExitCode}:\n{node.Output}");
        Assert.True(took < TimeSpan.FromSeconds(20), $"exited {took} after the second SIGTERM");
        Assert.Contains("second SIGTERM: exiting now with 143", node.Output);
    }
}
