using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ActorNat.Cli.Tests;

/// <summary>`actornat bench --report FILE.html` from a real (short) run against a real node: a self-contained page whose plots hold the run's numbers.</summary>
public partial class BenchReportTests
{
    [Fact]
    public async Task Bench_report_has_throughput_over_time_and_the_latency_histogram_of_the_run()
    {
        await using var node = await TestNode.StartAsync();
        var path = Path.Combine(Path.GetTempPath(), $"actornat-bench-report-{Guid.NewGuid():N}.html");
        try
        {
            var (code, stdout, stderr) = await TestNode.RunCli("bench", "new-flows", "--target", node.Url, "--token", TestNode.Token, "--duration", "3", "--warmup", "1",
                "--concurrency", "2", "--batch", "32", "--json", "--quiet", "--report", path);
            Assert.True(code == 0, $"exit {code}: {stderr}");
            var result = JsonDocument.Parse(stdout).RootElement;
            var html = await File.ReadAllTextAsync(path);
            Assert.StartsWith("<!doctype html>", html);
            Assert.Contains("uPlot", html); // the library inlined, nothing fetched
            Assert.DoesNotMatch(External(), html);
            var headline = Regex.Match(html, @"<b>([\d,]+) verdicts/s</b>");
            Assert.True(headline.Success, "the headline rate");
            Assert.InRange(double.Parse(headline.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture),
                result.GetProperty("per_second").GetDouble() - 1, result.GetProperty("per_second").GetDouble() + 1); // (rounded apart)

            var data = JsonNode.Parse(Data().Match(html).Groups[1].Value)!;
            var timeline = data["timeline"]!.AsArray();
            var measured = timeline.Where(s => (bool)s!["measured"]!).ToList();
            Assert.InRange(measured.Count, 2, 5); // about one sample a second of the 3 s measured
            Assert.Contains(timeline, s => !(bool)s!["measured"]!); // and the warm-up
            Assert.All(measured, s => Assert.True((double)s!["perSecond"]! > 0, s!.ToJsonString()));
            // The samples add up to the measured verdicts (each interval's rate times its length).
            double sum = 0, prev = measured.Count > 0 ? (double)timeline[timeline.IndexOf(measured[0]) - 1]!["t"]! : 0;
            foreach (var s in measured) { sum += (double)s!["perSecond"]! * ((double)s["t"]! - prev); prev = (double)s["t"]!; }
            Assert.InRange(sum, 0.6 * result.GetProperty("requests").GetInt64(), 1.4 * result.GetProperty("requests").GetInt64());

            var histogram = data["histogram"]!.AsArray();
            Assert.NotEmpty(histogram);
            var calls = histogram.Sum(b => (long)b!["count"]!);
            Assert.InRange(calls, 1, result.GetProperty("rpcs").GetInt64() + 2 * 2); // one per call (a call in flight at each end)
            // The buckets cover the recorded range: p50 and max fall inside.
            double lo = (double)histogram[0]!["fromMs"]!, hi = (double)histogram[^1]!["toMs"]!;
            var latency = result.GetProperty("latency_ms");
            Assert.InRange(latency.GetProperty("p50").GetDouble(), lo, hi);
            Assert.InRange(latency.GetProperty("max").GetDouble(), lo, hi);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [GeneratedRegex(@"<(script|link|img)[^>]+(src|href)=""?(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex External();

    [GeneratedRegex(@"const DATA = (.*);\n")]
    private static partial Regex Data();
}
