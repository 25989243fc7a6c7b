namespace ActorNat.Chaos.Tests;

/// <summary>
/// deploy/local/cluster.sh from any run directory (also one the postgres user cannot enter: initdb runs as postgres),
/// keeping the state across down/up, and starting from empty with `up N --fresh`.
/// </summary>
[Collection("chaos")]
public sealed class ClusterScriptTests(ChaosFixture fx)
{
    [Fact]
    public void Up_works_from_a_private_run_dir_keeps_state_across_restarts_and_fresh_starts_empty()
    {
        // A directory only its owner (root) may enter.
        var outer = Directory.CreateTempSubdirectory("actornat-private-");
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(outer.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var run = Path.Combine(outer.FullName, "run");
        (int, string) Cluster(params string[] args) => ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(180),
            out _, ["ACTORNAT_RUN_DIR=" + run, "ACTORNAT_BIN=" + fx.Actornat, "bash", Path.Combine(fx.Repo, "deploy", "local", "cluster.sh"), .. args]);
        string Url()
        {
            var (code, output) = Cluster("status");
            Assert.True(code == 0, output);
            return File.ReadAllText(Path.Combine(run, "node1.url")).Trim();
        }
        (int, string) Cli(params string[] args) => ChaosFixture.Run(fx.Actornat, fx.Repo, TimeSpan.FromSeconds(60), [.. args, "--target", Url()]);
        try
        {
            foreach (var n in new[] { "2", "1" })
            {
                var (up, upOut) = Cluster("up", n, "--fresh");
                Assert.True(up == 0, upOut);
                var (add, addOut) = Cli("addr", "add", "10.0.2.15/24", "dev", "eth0");
                Assert.True(add == 0, addOut);

                Assert.Equal(0, Cluster("down").Item1);
                if (n == "2") // (one node keeps its SQLite file across restarts: SqliteNodeTests, RecoveryReadinessTests)
                {
                    (up, upOut) = Cluster("up", n);
                    Assert.True(up == 0, upOut);
                    var (kept, keptOut) = Cli("addr", "list");
                    Assert.True(kept == 0, keptOut);
                    Assert.Contains("10.0.2.15/24", keptOut); // kept: a restart
                    Assert.Equal(0, Cluster("down").Item1);
                }

                (up, upOut) = Cluster("up", n, "--fresh");
                Assert.True(up == 0, upOut);
                var (list, listOut) = Cli("addr", "list");
                Assert.True(list == 0, listOut);
                Assert.DoesNotContain("10.0.2.15", listOut); // wiped: a new experiment
                Assert.Equal(0, Cluster("down", "--wipe").Item1);
            }
        }
        finally
        {
            Cluster("wipe");
            try { outer.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
