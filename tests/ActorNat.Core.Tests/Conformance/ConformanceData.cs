using System.Text.Json;
using System.Text.Json.Nodes;
using ActorNat.Cli.Simulate;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>The oracle's scenarios and golden kernel outputs copied under <c>conformance/</c>, and running our simulation on them.</summary>
public static class ConformanceData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "conformance");

    public static string ScenarioPath(string name) => Path.Combine(Root, "scenarios", name + ".json");

    public static string GoldenPath(string name) => Path.Combine(Root, "golden", name + ".json");

    /// <summary>Every scenario that has a golden kernel output.</summary>
    public static IReadOnlyList<string> GoldenNames() =>
        Directory.GetFiles(Path.Combine(Root, "golden"), "*.json").Select(Path.GetFileNameWithoutExtension)
            .Where(n => File.Exists(ScenarioPath(n!))).Select(n => n!).Order(StringComparer.Ordinal).ToList();

    public static TheoryData<string> Goldens() => new(GoldenNames());

    /// <summary>
    /// Scenarios compare's --self mode cannot judge: it runs every flow through POSTROUTING, and knows no local delivery,
    /// so the kernel's own output for connections to the router's addresses fails its R15 there. The kernel comparison
    /// still judges them.
    /// </summary>
    public static readonly IReadOnlySet<string> SelfCheckBlind = new HashSet<string> { "untranslated-answers" };

    public static TheoryData<string> SelfCheckable() => new(GoldenNames().Where(n => !SelfCheckBlind.Contains(n)));

    public static JsonElement Golden(string name) => Load(GoldenPath(name));

    public static JsonElement ScenarioJson(string name) => Load(ScenarioPath(name));

    public static JsonNode GoldenNode(string name) => JsonNode.Parse(File.ReadAllText(GoldenPath(name)))!;

    public static JsonElement Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    /// <summary><c>actornat simulate</c> in-process: the scenario on a virtual clock with the given seed, as the oracle's JSON.</summary>
    public static string SimulateJson(string name, ulong seed)
    {
        var s = Scenario.Load(ScenarioPath(name));
        var r = new Simulator(s, new Simulator.LocalPath(seed), seed).Run();
        return SimulationJson.Serialize(SimulationJson.ToJson(r), pretty: true);
    }

    public static JsonElement Simulate(string name, ulong seed)
    {
        using var doc = JsonDocument.Parse(SimulateJson(name, seed));
        return doc.RootElement.Clone();
    }

    public static JsonElement ToElement(JsonNode node) => JsonSerializer.SerializeToElement(node);
}
