using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ActorNat.Chaos.Tests;

/// <summary>What `actornat chaos --report` wrote for a real run (called by the chaos tests that pass --report).</summary>
public static partial class ReportTests
{
    public static void CheckChaosReport(string path, int faults, int acknowledged)
    {
        Assert.True(File.Exists(path), "no report at " + path);
        var html = File.ReadAllText(path);
        Assert.StartsWith("<!doctype html>", html);
        // Self-contained: the charting library inlined, nothing loaded from elsewhere.
        Assert.Contains("uPlot", html);
        Assert.DoesNotMatch(ExternalResource(), html);
        var data = JsonNode.Parse(Data().Match(html).Groups[1].Value)!;
        var seconds = data["seconds"]!.AsArray();
        Assert.True(seconds.Count > 5, "a few seconds of requests");
        // Every acknowledged request of the run is in a per-second bucket (minority probes are counted apart).
        Assert.True(seconds.Sum(s => (int)s!["acked"]!) >= acknowledged, "acknowledged requests in the plot");
        var marked = data["faults"]!.AsArray();
        Assert.Equal(faults, marked.Count);
        foreach (var f in marked)
        {
            Assert.True((double)f!["at"]! > 0 && (double)f["end"]! >= (double)f["at"]!, f.ToJsonString());
            Assert.True((double)f["recovery"]! >= 0, f.ToJsonString());
            Assert.Contains($"<td>{(string)f["kind"]!}</td><td>{(int)f["node"]!}</td>", html);
        }
    }

    [GeneratedRegex(@"<(script|link|img)[^>]+(src|href)=""?(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalResource();

    [GeneratedRegex(@"const DATA = (.*);\n")]
    public static partial Regex Data();
}
