using Xunit.Abstractions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>Our simulation of every oracle scenario decides as the kernel did (the golden files), for several seeds.</summary>
public class GoldenConformanceTests(ITestOutputHelper output)
{
    public static readonly ulong[] Seeds = [1, 2, 3, 42, 1000];

    public static TheoryData<string, ulong> GoldenAndSeeds()
    {
        var data = new TheoryData<string, ulong>();
        foreach (var name in ConformanceData.GoldenNames())
            foreach (var seed in Seeds) data.Add(name, seed);
        return data;
    }

    public static TheoryData<string, ulong> SelfCheckableAndSeeds()
    {
        var data = new TheoryData<string, ulong>();
        foreach (var name in ConformanceData.GoldenNames().Where(n => !ConformanceData.SelfCheckBlind.Contains(n)))
            foreach (var seed in Seeds) data.Add(name, seed);
        return data;
    }

    [Fact]
    public void Every_oracle_scenario_is_here_with_its_golden_output()
    {
        var names = ConformanceData.GoldenNames();
        Assert.True(names.Count >= 9, $"expected the oracle's 9 golden scenarios, found {names.Count}");
        foreach (var n in Directory.GetFiles(Path.Combine(ConformanceData.Root, "scenarios"), "*.json"))
            Assert.Contains(Path.GetFileNameWithoutExtension(n), names);
    }

    [Theory]
    [MemberData(nameof(GoldenAndSeeds))]
    public void Simulation_matches_the_kernel(string scenario, ulong seed)
    {
        var kernel = ConformanceData.Golden(scenario);
        var ours = ConformanceData.Simulate(scenario, seed);
        var result = OracleComparer.Compare(kernel, ours);
        foreach (var n in result.Notes) output.WriteLine("note: " + n);
        output.WriteLine(result.ToString());
        Assert.True(result.Ok, $"{scenario} seed {seed}:\n{result}");
        Assert.Equal(kernel.GetProperty("flows").GetArrayLength(), result.Passed);
    }

    [Theory]
    [MemberData(nameof(SelfCheckableAndSeeds))]
    public void Simulation_is_self_consistent(string scenario, ulong seed)
    {
        var ours = ConformanceData.Simulate(scenario, seed);
        var result = OracleComparer.SelfCheck(ours, ConformanceData.ScenarioJson(scenario));
        output.WriteLine(result.ToString());
        Assert.True(result.Ok, $"{scenario} seed {seed} --self:\n{result}");
    }
}
