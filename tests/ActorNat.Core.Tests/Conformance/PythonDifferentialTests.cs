using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// Differential tests of the port against python <c>compare</c>: on randomly damaged golden files both report the
/// same (flow, rule) mismatches, and <c>--explain</c> (matched rule, allowed range) is line-for-line the same, from
/// the output's own rules/routes and from the scenario file alone. Skipped (with the reason written) without python3.
/// </summary>
public class PythonDifferentialTests(ITestOutputHelper output)
{
    private const int MutationsPerGolden = 6;

    [Theory]
    [MemberData(nameof(ConformanceData.Goldens), MemberType = typeof(ConformanceData))]
    public void Mutated_goldens_get_the_same_verdicts(string golden)
    {
        var py = PythonCompare.Find(out var reason);
        if (py is null) { output.WriteLine("SKIPPED: differential test not run: " + reason); return; }
        var dir = Directory.CreateTempSubdirectory("actornat-diff-");
        try
        {
            var rnd = new Random(StableSeed(golden));
            for (int m = 0; m < MutationsPerGolden; m++)
            {
                var node = ConformanceData.GoldenNode(golden);
                var what = OutputMutator.Mutate(node, rnd);
                var path = Path.Combine(dir.FullName, $"mut{m}.json");
                File.WriteAllText(path, node.ToJsonString());
                output.WriteLine($"mutation {m}: {string.Join("; ", what)}");

                var run = py.Execute("-q", ConformanceData.GoldenPath(golden), path);
                var cs = OracleComparer.Compare(ConformanceData.Golden(golden), ConformanceData.Load(path));
                output.WriteLine($"  python {run.Summary} | C# {cs.Summary}");
                Assert.Equal(run.Verdicts, PythonCompare.Verdicts(cs));
                Assert.Equal(run.Summary, cs.Summary);

                var self = py.Execute("-q", "--self", path);
                var csSelf = OracleComparer.SelfCheck(ConformanceData.Load(path));
                output.WriteLine($"  python --self {self.Summary} | C# {csSelf.Summary}");
                Assert.Equal(self.Verdicts, PythonCompare.Verdicts(csSelf));
                Assert.Equal(self.Summary, csSelf.Summary);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(ConformanceData.Goldens), MemberType = typeof(ConformanceData))]
    public void Explain_is_the_same(string golden)
    {
        var py = PythonCompare.Find(out var reason);
        if (py is null) { output.WriteLine("SKIPPED: differential test not run: " + reason); return; }
        var dir = Directory.CreateTempSubdirectory("actornat-explain-");
        try
        {
            // 1. rules/routes from the kernel's own output
            var run = py.Execute("-q", "--explain", ConformanceData.GoldenPath(golden), ConformanceData.GoldenPath(golden));
            var cs = OracleComparer.Explain(ConformanceData.Golden(golden));
            foreach (var l in cs) output.WriteLine(l);
            Assert.Equal(run.Stderr.Where(l => l.StartsWith("explain:", StringComparison.Ordinal)), cs);

            // 2. rules/routes/addresses from the scenario file only (static config + router exec actions)
            var node = ConformanceData.GoldenNode(golden).AsObject();
            foreach (var k in new[] { "nat_rules", "router_routes", "router_addrs" }) node.Remove(k);
            var bare = Path.Combine(dir.FullName, "bare.json");
            File.WriteAllText(bare, node.ToJsonString());
            var scen = ConformanceData.ScenarioPath(golden);
            run = py.Execute("-q", "--explain", "--scenario", scen, bare, bare);
            cs = OracleComparer.Explain(ConformanceData.Load(bare), ConformanceData.ScenarioJson(golden));
            Assert.Equal(run.Stderr.Where(l => l.StartsWith("explain:", StringComparison.Ordinal)), cs);

            // and the --self checks against the scenario's own flows and rules agree too
            var self = py.Execute("-q", "--self", "--scenario", scen, bare);
            var csSelf = OracleComparer.SelfCheck(ConformanceData.Load(bare), ConformanceData.ScenarioJson(golden));
            Assert.Equal(self.Verdicts, PythonCompare.Verdicts(csSelf));
            Assert.Equal(self.Summary, csSelf.Summary);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static int StableSeed(string s)
    {
        unchecked
        {
            int h = 17;
            foreach (var c in s) h = h * 31 + c;
            return h & 0x7FFFFFFF;
        }
    }
}
