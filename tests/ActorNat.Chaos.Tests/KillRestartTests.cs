using System.Text.Json;

namespace ActorNat.Chaos.Tests;

/// <summary>
/// CI round: 3 real nodes on PostgreSQL (deploy/local/cluster.sh), seeded load, two SIGKILLs each followed by a
/// restart; fails on any lost acknowledged mapping or reply tuple held twice (live table, client history, journal).
/// </summary>
[Collection("chaos")]
public sealed class KillRestartTests(ChaosFixture fx)
{
    [Fact]
    public void Kill9_and_restart_under_load_lose_no_acknowledged_mapping_and_hold_no_tuple_twice()
    {
        var run = Path.Combine(fx.Work, "run");
        var failure = Path.Combine(fx.Work, "failure.json");
        var report = Path.Combine(fx.Work, "chaos-report.html");
        try
        {
            var (code, output) = ChaosFixture.Run(fx.Actornat, fx.Repo, TimeSpan.FromMinutes(6), out var stdout,
                "chaos", "--nodes", "3", "--faults", "2", "--kinds", "kill", "--seed", "11", "--concurrency", "2", "--json", "--run-dir", run, "--failure-file", failure, "--report", report);
            Assert.True(code is 0 or 1, $"actornat chaos did not finish: exit {code}\n{output}");
            var json = JsonDocument.Parse(stdout.Trim().Split('\n').Last()).RootElement;
            string Why() => $"{output}\n{(File.Exists(failure) ? "failure file: " + failure : "")}";
            Assert.True(json.GetProperty("faults").GetInt32() >= 2, Why());
            Assert.True(json.GetProperty("fault_kinds").GetProperty("kill").GetInt32() >= 1, Why());
            Assert.True(json.GetProperty("acknowledged").GetInt32() > 0, Why());
            Assert.True(json.GetProperty("lost_acknowledged").GetInt32() == 0, "acknowledged mappings lost\n" + Why());
            Assert.True(json.GetProperty("duplicate_reply_tuples").GetInt32() == 0, "reply tuples held twice\n" + Why());
            Assert.True(json.GetProperty("journal").ValueKind == JsonValueKind.Object, "the journal was not checked\n" + Why());
            Assert.True(code == 0, "a check failed\n" + Why());
            ReportTests.CheckChaosReport(report, json.GetProperty("faults").GetInt32(), json.GetProperty("acknowledged").GetInt32());
        }
        finally
        {
            // The run stops its cluster itself; this only covers a run killed at the deadline.
            ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(60), "ACTORNAT_RUN_DIR=" + run, "bash", Path.Combine(fx.Repo, "deploy", "local", "cluster.sh"), "down");
        }
    }
}
