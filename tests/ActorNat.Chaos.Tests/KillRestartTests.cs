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
                "chaos", "--nodes", "3", "--faults", "2", "--kinds", "kill", "--seed", "11", "--concurrency", "2", "--listing-probe", "--json", "--run-dir", run, "--failure-file", failure, "--report", report);
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
            AssertTimelines(json, Why);
            ReportTests.CheckChaosReport(report, json.GetProperty("faults").GetInt32(), json.GetProperty("acknowledged").GetInt32());
        }
        finally
        {
            // The run stops its cluster itself; this only covers a run killed at the deadline.
            ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(60), "ACTORNAT_RUN_DIR=" + run, "bash", Path.Combine(fx.Repo, "deploy", "local", "cluster.sh"), "down");
        }
    }

    /// <summary>
    /// Each kill's failover timeline, read from the nodes' logs: the survivors saw the node unreachable, then downed it;
    /// the shards it had got new homes after that; every affected conntrack shard with a flow was sampled; affected
    /// flows answered, after the node was downed; a survivor's conntrack -L was whole again.
    /// </summary>
    private static void AssertTimelines(JsonElement json, Func<string> why)
    {
        double? D(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;
        int withFlows = 0;
        foreach (var f in json.GetProperty("per_fault").EnumerateArray())
        {
            var t = f.GetProperty("timeline_s");
            var unreachable = D(t.GetProperty("unreachable"));
            var downed = D(t.GetProperty("downed"));
            Assert.True(unreachable is > 0 && downed >= unreachable, $"fault {f.GetProperty("Index")}: unreachable {unreachable}, downed {downed}\n{why()}");
            Assert.Equal(f.GetProperty("shards_with_flows").GetInt32(), f.GetProperty("shards_sampled").GetInt32());
            Assert.Equal(0, t.GetProperty("pools_not_recovered").GetInt32());
            var homes = D(t.GetProperty("conntrack_homes")[0]);
            if (homes is not null) Assert.True(homes >= downed, $"a conntrack shard started elsewhere at {homes} s, before the node was downed at {downed} s\n{why()}");
            var poolHomes = D(t.GetProperty("pool_homes")[0]);
            if (poolHomes is not null) Assert.True(poolHomes >= downed && D(t.GetProperty("pools_recovered")[1]) >= poolHomes, why());
            if (f.GetProperty("shards_sampled").GetInt32() > 0)
            {
                withFlows++;
                var last = D(t.GetProperty("flows_answered")[1]);
                Assert.True(last >= downed, $"the last affected flow answered at {last} s, before the node was downed at {downed} s\n{why()}");
            }
            Assert.True(D(f.GetProperty("listing_complete_s")) > 0, $"no whole listing after fault {f.GetProperty("Index")}\n{why()}");
        }
        Assert.True(withFlows >= 1, "no kill hit a conntrack shard with an acknowledged flow\n" + why());
        var phases = json.GetProperty("phases_s");
        Assert.True(phases.GetProperty("unreachable").GetProperty("p50").GetDouble() > 0, why());
        Assert.True(phases.GetProperty("flows_last").GetProperty("p99").GetDouble() > 0, why());
    }
}
