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
        // The cluster backend's graceful stop leaves its cluster and hands its shards off after the gRPC server has
        // stopped. The second signal goes once the first has been taken (readiness no longer 200), not back to back:
        // two pending SIGTERMs merge into one.
        await using var node = await NodeProcess.StartAsync(["--backend", "cluster", "--database", "memory", "--grpc", "127.0.0.1:0",
            "--metrics", "127.0.0.1:0", "--shutdown-timeout", "120"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var ready = node.MetricsUrl + "/healthz/ready";
        await Until(async () => (await Status(http, ready)) == 200, "the node is ready");
        node.Signal(PosixSignal.SIGTERM);
        await Until(async () => (await Status(http, ready)) != 200, "the first SIGTERM is taken (readiness 503 or the endpoint closed)");
        Assert.False(node.HasExited, "the graceful stop is still running");
        node.Signal(PosixSignal.SIGTERM);
        var took = await node.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(node.ExitCode == 143, $"exit code {node.ExitCode}:\n{node.Output}");
        Assert.True(took < TimeSpan.FromSeconds(20), $"exited {took} after the second SIGTERM");
        Assert.Contains("second SIGTERM: exiting now with 143", node.Output);
    }

    private static async Task<int> Status(HttpClient http, string url)
    {
        try { return (int)(await http.GetAsync(url)).StatusCode; }
        catch (HttpRequestException) { return 0; } // closed: the host is stopping
        catch (TaskCanceledException) { return 0; }
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException("timed out waiting until " + what);
            await Task.Delay(2); // polling the node's readiness, with a deadline
        }
    }
}
