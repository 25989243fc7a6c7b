using System.Text;
using ActorNat.Cli.Chaos;

namespace ActorNat.Cli.Reports;

/// <summary>
/// `actornat chaos --report FILE.html`: from the run's client-side history and its fault records, acknowledged and
/// failed requests per second with each fault's window marked and the moment its sampled flows answered again.
/// </summary>
public static class ChaosReport
{
    /// <summary>Per second of the run (by completion time): acknowledged, failed, unknown requests.</summary>
    public static List<(long Second, int Acked, int Failed, int Unknown)> PerSecond(IEnumerable<HistoryEntry> history)
    {
        var buckets = new SortedDictionary<long, (int A, int F, int U)>();
        foreach (var h in history)
        {
            if (h.Kind == "minority") continue; // requests to a cut-off node, which must not be acknowledged: counted apart by chaos
            var s = h.EndMs / 1000;
            var b = buckets.GetValueOrDefault(s);
            buckets[s] = h.Outcome switch { Outcome.Ack => b with { A = b.A + 1 }, Outcome.Failed => b with { F = b.F + 1 }, _ => b with { U = b.U + 1 } };
        }
        if (buckets.Count == 0) return [];
        return Enumerable.Range(0, (int)(buckets.Keys.Last() - buckets.Keys.First() + 1)).Select(i => buckets.Keys.First() + i)
            .Select(s => (s, buckets.GetValueOrDefault(s).A, buckets.GetValueOrDefault(s).F, buckets.GetValueOrDefault(s).U)).ToList();
    }

    public static string Render(IReadOnlyList<FaultRecord> faults, IReadOnlyList<HistoryEntry> history, int exit, string textReport)
    {
        var seconds = PerSecond(history);
        var body = new StringBuilder();
        body.Append("<h1>actornat chaos</h1>\n");
        body.Append($"<p class=\"muted\">{faults.Count} faults, {history.Count:N0} requests · generated {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC</p>\n");
        body.Append(exit == 0 ? "<p class=\"ok\">every check passed (0 lost, 0 duplicate tuples, 0 double activations)</p>\n"
            : "<p class=\"bad\">a check failed: see the report below</p>\n");
        body.Append("<h2>Requests over time <span class=\"muted\">(per second; shaded: a fault in force, from injection until every node served again; " +
                    "purple ● the fault injected, green ● its sampled flows all answered again)</span></h2><div class=\"chart\" id=\"requests\"></div>\n");
        body.Append("<h2>Faults</h2>\n<table><tr><th>#</th><th>Kind</th><th>Node</th><th>At (s)</th><th>Until (s)</th><th>Recovery (s)</th><th>Affected flows</th><th>Failed</th><th>Unknown</th><th>Note</th></tr>\n");
        foreach (var f in faults)
            body.Append($"<tr><td>{f.Index}</td><td>{HtmlReport.Encode(f.Kind)}</td><td>{f.Node}</td><td class=\"num\">{f.AtMs / 1000.0:F1}</td><td class=\"num\">{f.EndMs / 1000.0:F1}</td>" +
                        $"<td class=\"num\">{f.RecoveryMaxS:F2}</td><td class=\"num\">{f.Affected}/{f.Sampled}</td><td class=\"num\">{f.FailedRequests}</td><td class=\"num\">{f.UnknownRequests}</td><td>{HtmlReport.Encode(f.Note)}</td></tr>\n");
        body.Append("</table>\n<h2>Report</h2>\n<pre>").Append(HtmlReport.Encode(textReport)).Append("</pre>\n");
        var data = new
        {
            seconds = seconds.Select(s => new { t = s.Second, acked = s.Acked, failed = s.Failed, unknown = s.Unknown }),
            faults = faults.Select(f => new { index = f.Index, kind = f.Kind, node = f.Node, at = f.AtMs / 1000.0, end = f.EndMs / 1000.0, recovery = f.RecoveryMaxS }),
        };
        const string script = """
            const s = DATA.seconds, xs = s.map(b => b.t);
            const inFault = (t) => DATA.faults.some(f => f.at > 0 && t >= Math.floor(f.at) && t <= Math.ceil(f.end));
            const at = (t, pick) => { const f = DATA.faults.find(pick(t)); return f ? 1 : null; };
            plot("requests", [
                line("acknowledged/s", "#1f77b4"),
                line("failed/s", "#d62728"),
                line("unknown/s", "#ff7f0e"),
                { label: "fault in force", scale: "fault", stroke: "#b0b7c3", fill: "#b0b7c333", width: 0, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
                { label: "fault injected", scale: "fault", stroke: "#6a1b9a", width: 0, points: { show: true, size: 9, fill: "#6a1b9a" }, paths: () => null },
                { label: "recovered", scale: "fault", stroke: "#1a7f37", width: 0, points: { show: true, size: 9, fill: "#1a7f37" }, paths: () => null },
              ], [xs, s.map(b => b.acked), s.map(b => b.failed), s.map(b => b.unknown),
                  xs.map(t => inFault(t) ? 1 : 0),
                  xs.map(t => at(t, (t) => (f) => f.at > 0 && Math.floor(f.at) === t)),
                  xs.map(t => at(t, (t) => (f) => f.at > 0 && Math.floor(f.at + f.recovery) === t))],
              { height: 320, scales: { x: { time: false }, fault: { range: [0, 1.05] } },
                axes: [{ label: "seconds since the load started" }, { label: "requests per second", size: 70 }] });
            """;
        return HtmlReport.Page("actornat chaos", body.ToString(), data, script);
    }
}
