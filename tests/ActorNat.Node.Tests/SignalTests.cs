using System.Runtime.InteropServices;

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
    public async Task A_second_sigterm_during_the_graceful_stop_exits_at_once_with_143()
    {
        // The second signal right behind the first: the graceful stop it interrupts (gRPC drain, cluster leave and
        // hand-off with the cluster backend) has only begun. Waiting for a log line first would race with a stop that
        // can finish in milliseconds.
        await using var node = await NodeProcess.StartAsync(["--backend", "cluster", "--database", "memory", "--grpc", "127.0.0.1:0",
            "--metrics", "127.0.0.1:0", "--shutdown-timeout", "120"]);
        node.Signal(PosixSignal.SIGTERM);
        node.Signal(PosixSignal.SIGTERM);
        var took = await node.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(node.ExitCode == 143, $"exit code {node.ExitCode}:\n{node.Output}");
        Assert.True(took < TimeSpan.FromSeconds(20), $"exited {took} after the second SIGTERM");
        Assert.Contains("second SIGTERM: exiting now with 143", node.Output);
    }
}
