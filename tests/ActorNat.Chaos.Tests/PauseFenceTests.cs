using System.Diagnostics;

namespace ActorNat.Chaos.Tests;

/// <summary>
/// A node frozen (SIGSTOP) longer than the cluster takes to replace it must not act again when it resumes: it fences
/// itself, records when it froze, and shuts down. A real `actornat node` process, started by cluster.sh.
/// </summary>
[Collection("chaos")]
public sealed class PauseFenceTests(ChaosFixture fx)
{
    [Fact]
    public void A_node_paused_beyond_the_takeover_time_fences_itself_and_exits()
    {
        var run = Path.Combine(fx.Work, "pause-run");
        var script = Path.Combine(fx.Repo, "deploy", "local", "cluster.sh");
        (int, string) Cluster(params string[] args) => ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(120),
            ["ACTORNAT_RUN_DIR=" + run, "ACTORNAT_BIN=" + fx.Actornat, "ACTORNAT_ACTIVATION_LOG=1", "bash", script, .. args]);
        try
        {
            var (up, upOut) = Cluster("up", "1");
            Assert.True(up == 0, upOut);
            var pid = int.Parse(File.ReadAllText(Path.Combine(run, "node1.pid")).Trim());

            var (stop, stopOut) = Cluster("stop", "1");
            Assert.True(stop == 0, stopOut);
            var frozen = Stopwatch.StartNew();
            // The fault itself: a pause of 3.5 s, beyond the default limit (1 s heartbeat pause + half of 0.75 s stable-after).
            Thread.Sleep(TimeSpan.FromSeconds(3.5));
            var (cont, contOut) = Cluster("cont", "1");
            Assert.True(cont == 0, contOut);

            // Awaited: the process exits by itself.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (File.Exists($"/proc/{pid}/cmdline") && DateTime.UtcNow < deadline) Thread.Sleep(100); // polling for the exit, with a deadline
            Assert.False(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("node1"),
                "the node still runs 60 s after a 3.5 s pause");

            var log = File.ReadAllText(Path.Combine(run, "node1.out")) + File.ReadAllText(Path.Combine(run, "node1.log"));
            Assert.Contains("stood still", log);
            var fence = File.ReadLines(Path.Combine(run, "node1.activations.jsonl")).Single(l => l.Contains("\"why\":\"pause\""));
            Assert.Contains("\"fence\":true", fence);
        }
        finally
        {
            Cluster("down");
        }
    }
}
