using Xunit.Abstractions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// The C# comparator and the oracle's python <c>compare</c> agree on pass/fail (and on the summary line) for each
/// golden-vs-simulation pair, normal and --self. Needs python3 and /work/shared/oracle/compare; without them the
/// test writes why and returns without asserting anything.
/// </summary>
public class PythonCrossCheckTests(ITestOutputHelper output)
{
    public static TheoryData<string, ulong> Pairs()
    {
        var data = new TheoryData<string, ulong>();
        foreach (var name in ConformanceData.GoldenNames())
            foreach (var seed in new ulong[] { 1, 42 }) data.Add(name, seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Csharp_and_python_compare_agree(string scenario, ulong seed)
    {
        var py = PythonCompare.Find(out var reason);
        if (py is null)
        {
            output.WriteLine("SKIPPED: cross-check not run: " + reason);
            return;
        }
        var dir = Directory.CreateTempSubdirectory("actornat-crosscheck-");
        try
        {
            var ours = Path.Combine(dir.FullName, "ours.json");
            File.WriteAllText(ours, ConformanceData.SimulateJson(scenario, seed));

            var run = py.Execute("-q", ConformanceData.GoldenPath(scenario), ours);
            var cs = OracleComparer.Compare(ConformanceData.Golden(scenario), ConformanceData.Load(ours));
            output.WriteLine($"python: exit {run.ExitCode}, \"{run.Summary}\"; C#: {cs.Summary}");
            Assert.True(run.ExitCode is 0 or 1, $"python compare failed to run (exit {run.ExitCode}): {string.Join("\n", run.Stderr)}");
            Assert.Equal(run.ExitCode == 0, cs.Ok);
            Assert.Equal(run.Summary, cs.Summary);
            Assert.Equal(run.Verdicts, PythonCompare.Verdicts(cs));

            var self = py.Execute("-q", "--self", "--scenario", ConformanceData.ScenarioPath(scenario), ours);
            var csSelf = OracleComparer.SelfCheck(ConformanceData.Load(ours), ConformanceData.ScenarioJson(scenario));
            output.WriteLine($"python --self: exit {self.ExitCode}, \"{self.Summary}\"; C#: {csSelf.Summary}");
            Assert.Equal(self.ExitCode == 0, csSelf.Ok);
            Assert.Equal(self.Summary, csSelf.Summary);
            Assert.Equal(self.Verdicts, PythonCompare.Verdicts(csSelf));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
