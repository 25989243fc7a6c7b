using System.Diagnostics;
using Xunit.Abstractions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// The C# comparator and the oracle's python <c>compare</c> agree on pass/fail (and the failed-flow count) for each
/// golden-vs-simulation pair. Needs python3 and /work/shared/oracle/compare; without them the test says why and
/// returns without asserting anything.
/// </summary>
public class PythonCrossCheckTests(ITestOutputHelper output)
{
    private const string ComparePath = "/work/shared/oracle/compare";

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
        var python = FindPython();
        if (python is null || !File.Exists(ComparePath))
        {
            output.WriteLine($"SKIPPED: cross-check not run: {(python is null ? "python3 not found on PATH" : ComparePath + " does not exist")}");
            return;
        }
        var dir = Directory.CreateTempSubdirectory("actornat-crosscheck-");
        try
        {
            var ours = Path.Combine(dir.FullName, "ours.json");
            File.WriteAllText(ours, ConformanceData.SimulateJson(scenario, seed));
            var golden = ConformanceData.GoldenPath(scenario);

            var (rc, last) = RunPython(python, ComparePath, "-q", golden, ours);
            var cs = OracleComparer.Compare(ConformanceData.Golden(scenario), ConformanceData.Load(ours));
            output.WriteLine($"python: exit {rc}, \"{last}\"; C#: {cs.Summary}");
            Assert.True(rc is 0 or 1, $"python compare failed to run (exit {rc}): {last}");
            Assert.Equal(rc == 0, cs.Ok);
            Assert.Equal(last, cs.Summary);

            var (rcSelf, lastSelf) = RunPython(python, ComparePath, "-q", "--self", "--scenario", ConformanceData.ScenarioPath(scenario), ours);
            var csSelf = OracleComparer.SelfCheck(ConformanceData.Load(ours), ConformanceData.ScenarioJson(scenario));
            output.WriteLine($"python --self: exit {rcSelf}, \"{lastSelf}\"; C#: {csSelf.Summary}");
            Assert.Equal(rcSelf == 0, csSelf.Ok);
            Assert.Equal(lastSelf, csSelf.Summary);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string? FindPython()
    {
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var p = Path.Combine(d, "python3");
            if (d.Length > 0 && File.Exists(p)) return p;
        }
        return null;
    }

    private static (int ExitCode, string LastLine) RunPython(string python, params string[] args)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException("python compare did not finish"); }
        stderr.Wait();
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (p.ExitCode, lines.Length > 0 ? lines[^1].Trim() : stderr.Result.Trim());
    }
}
