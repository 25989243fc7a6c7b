using System.Diagnostics;

namespace ActorNat.Chaos.Tests;

/// <summary>
/// A node frozen (SIGSTOP) longer than the cluster takes to replace it must not act again when it resumes: it fences
/// itself, records when it froze, and shuts down. The only member of a cluster has no one to be replaced by: it keeps
/// serving. Real `actornat node` processes, started by cluster.sh.
/// </summary>
[Collection("chaos")]
public sealed class PauseFenceTests(ChaosFixture fx)
{
    private (int, string) Cluster(string run, params string[] args) => ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(180),
        ["ACTORNAT_RUN_DIR=" + run, "ACTORNAT_BIN=" + fx.Actornat, "ACTORNAT_ACTIVATION_LOG=1", "bash", Path.Combine(fx.Repo, "deploy", "local", "cluster.sh"), .. args]);

    /// <summary>SIGSTOP node I for 3.5 s: beyond the default limit (the earliest takeover, 1 s heartbeat pause + 0.5 s stable-after + 0.1 s removal margin, less one 0.2 s heartbeat: 1.4 s).</summary>
    private int Pause(string run, int i)
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(run, $"node{i}.pid")).Trim());
        var (stop, stopOut) = Cluster(run, "stop", i.ToString());
        Assert.True(stop == 0, stopOut);
        Thread.Sleep(TimeSpan.FromSeconds(3.5)); // the fault itself: a pause of this length
        var (cont, contOut) = Cluster(run, "cont", i.ToString());
        Assert.True(cont == 0, contOut);
        return pid;
    }

    private static string Log(string run, int i) =>
        File.ReadAllText(Path.Combine(run, $"node{i}.out")) + File.ReadAllText(Path.Combine(run, $"node{i}.log"));

    [Fact]
    public void A_node_paused_beyond_the_takeover_time_fences_itself_and_exits()
    {
        var run = Path.Combine(fx.Work, "pause-run");
        try
        {
            var (up, upOut) = Cluster(run, "up", "2");
            Assert.True(up == 0, upOut);
            var pid = Pause(run, 2);

            // Awaited: the process exits by itself.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (File.Exists($"/proc/{pid}/cmdline") && DateTime.UtcNow < deadline) Thread.Sleep(100); // polling for the exit, with a deadline
            Assert.False(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("node2"),
                "the node still runs 60 s after a 3.5 s pause");

            Assert.Contains("stood still", Log(run, 2));
            var fence = File.ReadLines(Path.Combine(run, "node2.activations.jsonl")).Single(l => l.Contains("\"why\":\"pause\""));
            Assert.Contains("\"fence\":true", fence);
        }
        finally
        {
            Cluster(run, "down", "--wipe");
        }
    }

    [Fact]
    public void The_only_member_paused_keeps_serving()
    {
        var run = Path.Combine(fx.Work, "pause-alone-run");
        try
        {
            var (up, upOut) = Cluster(run, "up", "1");
            Assert.True(up == 0, upOut);
            var pid = Pause(run, 1);

            // The node reports the stall (its own signal that it has looked at it), then serves on.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Log(run, 1).Contains("not taken for a pause") && DateTime.UtcNow < deadline) Thread.Sleep(100); // polling its log, with a deadline
            Assert.Contains("not taken for a pause: the only member", Log(run, 1));
            var url = File.ReadAllText(Path.Combine(run, "node1.url")).Trim();
            var (health, healthOut) = ChaosFixture.Run(fx.Actornat, fx.Repo, TimeSpan.FromSeconds(60), "health", "--target", url, "--wait", "30");
            Assert.True(health == 0, healthOut);
            Assert.True(File.Exists($"/proc/{pid}/cmdline"), "the node exited");
            Assert.DoesNotContain("shutting down", Log(run, 1));
        }
        finally
        {
            Cluster(run, "down", "--wipe");
        }
    }
}
