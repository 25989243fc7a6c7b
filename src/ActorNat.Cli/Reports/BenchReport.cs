using System.Text;
using ActorNat.Cli.Bench;

namespace ActorNat.Cli.Reports;

/// <summary>`actornat bench --report FILE.html`: throughput over the run and the latency histogram, with the totals.</summary>
public static class BenchReport
{
    /// <summary>Latency buckets by powers of two of microseconds: [2^k, 2^(k+1)) µs, with their counts.</summary>
    public static List<(double FromMs, double ToMs, long Count)> Histogram(BenchResult r)
    {
        var counts = new SortedDictionary<int, long>();
        foreach (var v in r.Latency.RecordedValues())
        {
            int k = v.ValueIteratedTo <= 1 ? 0 : (int)Math.Floor(Math.Log2(v.ValueIteratedTo));
            counts[k] = counts.GetValueOrDefault(k) + v.CountAtValueIteratedTo;
        }
        if (counts.Count == 0) return [];
        return Enumerable.Range(counts.Keys.First(), counts.Keys.Last() - counts.Keys.First() + 1)
            .Select(k => (Math.Pow(2, k) / 1000.0, Math.Pow(2, k + 1) / 1000.0, counts.GetValueOrDefault(k))).ToList();
    }

    public static string Render(BenchResult r, IEnumerable<string> textReport)
    {
        var j = r.ToJson();
        var hist = Histogram(r);
        var body = new StringBuilder();
        body.Append($"<h1>actornat bench — {HtmlReport.Encode((string)j["mode"]!)}</h1>\n");
        body.Append($"<p class=\"muted\">{HtmlReport.Encode((string)j["transport"]!)}, batch {j["batch"]}, concurrency {j["concurrency"]}, " +
                    $"{j["duration_s"]} s measured after {j["warmup_s"]} s of warm-up · generated {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC</p>\n");
        body.Append($"<p><b>{r.PerSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} verdicts/s</b> · {r.Requests:N0} verdicts, {r.Failed:N0} failed · " +
                    (r.Violations == 0 ? $"<span class=\"ok\">{r.Checked:N0} checked, 0 wrong</span>" : $"<span class=\"bad\">{r.Violations:N0} of {r.Checked:N0} checked verdicts wrong</span>") + "</p>\n");
        body.Append("<h2>Throughput over time <span class=\"muted\">(verdicts/s per interval; warm-up in grey)</span></h2><div class=\"chart\" id=\"throughput\"></div>\n");
        body.Append($"<h2>Latency histogram <span class=\"muted\">(per {HtmlReport.Encode((string)j["latency_ms"]!["unit"]!)}, calls per bucket)</span></h2><div class=\"chart\" id=\"latency\"></div>\n");
        body.Append("<table><tr><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr><tr>");
        foreach (var p in new[] { "p50", "p90", "p99", "p999", "max" }) body.Append($"<td class=\"num\">{(double)j["latency_ms"]![p]!:0.###} ms</td>");
        body.Append("</tr></table>\n<h2>Report</h2>\n<pre>").Append(HtmlReport.Encode(string.Join("\n", textReport))).Append("</pre>\n");
        body.Append("<h2>JSON</h2>\n<pre>").Append(HtmlReport.Encode(j.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }))).Append("</pre>\n");
        var data = new
        {
            timeline = r.Timeline.Select(s => new { t = s.T, perSecond = Math.Round(s.PerSecond, 1), failedPerSecond = Math.Round(s.FailedPerSecond, 1), measured = s.Measured }),
            histogram = hist.Select(h => new { fromMs = h.FromMs, toMs = h.ToMs, count = h.Count }),
        };
        const string script = """
            const t = DATA.timeline;
            plot("throughput", [line("verdicts/s", "#1f77b4"), line("warm-up verdicts/s", "#9aa3ad", { points: { show: true, size: 6 } }), line("failed/s", "#d62728")],
              [t.map(s => s.t), t.map(s => s.measured ? s.perSecond : null), t.map(s => s.measured ? null : s.perSecond), t.map(s => s.failedPerSecond)],
              { x: { label: "s", value: (u, v) => v == null ? "–" : v.toFixed(1) + " s" }, axes: [{ label: "seconds since start" }, { label: "per second", size: 80 }] });
            const h = DATA.histogram, xs = h.map((_, i) => i);
            const ms = (v) => v < 1 ? v.toPrecision(2) : v < 100 ? v.toPrecision(3) : v.toFixed(0);
            plot("latency", [{ label: "calls", fill: "#2ca02ccc", stroke: "#2ca02c", paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false } }],
              [xs, h.map(b => b.count)], {
                x: { label: "bucket", value: (u, i) => i == null || !h[i] ? "–" : `${ms(h[i].fromMs)}–${ms(h[i].toMs)} ms` },
                scales: { x: { time: false, range: () => [-0.5, h.length - 0.5] } },
                axes: [{ label: "latency (ms, bucket upper bound)", splits: () => xs, values: (u, s) => s.map(i => h[i] ? ms(h[i].toMs) : "") }, { label: "calls", size: 70 }],
              });
            """;
        return HtmlReport.Page($"actornat bench {j["mode"]}", body.ToString(), data, script);
    }
}
