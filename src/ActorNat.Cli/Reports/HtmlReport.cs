using System.Net;
using System.Text;
using System.Text.Json;
using ActorNat.Node.Dashboard;

namespace ActorNat.Cli.Reports;

/// <summary>
/// A self-contained HTML page: the charting library the node's dashboard uses (uPlot, embedded in ActorNat.Node
/// from npm at build time) inlined with its stylesheet, the run's data as JSON, and a short script that draws it.
/// Opens from disk with no network.
/// </summary>
public static class HtmlReport
{
    private const string Style = """
        body { font: 14px/1.4 system-ui, "DejaVu Sans", sans-serif; color: #1d2430; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
        h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 15px; margin: 22px 0 6px; }
        .muted { color: #6b7585; } .bad { color: #c62828; font-weight: 600; } .ok { color: #1a7f37; font-weight: 600; }
        table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid #e2e6ec; }
        th { font-size: 12px; color: #6b7585; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        pre { background: #f7f8fa; border: 1px solid #e2e6ec; padding: 8px; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; overflow-x: auto; }
        .chart { margin: 6px 0 4px; }
        """;

    /// <summary>The page: <paramref name="body"/> (HTML), then the data as <c>const DATA</c> and <paramref name="script"/>.</summary>
    public static string Page(string title, string body, object data, string script)
    {
        var json = JsonSerializer.Serialize(data, new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }); // the default encoder escapes <, > and &: the JSON cannot close the script element
        var sb = new StringBuilder();
        sb.Append("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n");
        sb.Append("<meta name=\"generator\" content=\"actornat\">\n<style>\n").Append(DashboardAssets.ReadText(DashboardAssets.ChartStyle)).Append('\n').Append(Style).Append("</style>\n</head>\n<body>\n");
        sb.Append(body);
        sb.Append("\n<script>\n").Append(DashboardAssets.ReadText(DashboardAssets.ChartScript)).Append("\n</script>\n");
        sb.Append("<script>\nconst DATA = ").Append(json).Append(";\n").Append(Helpers).Append(script).Append("\n</script>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>Shared drawing helpers: one uPlot per chart, width of the page.</summary>
    private const string Helpers = """
        function plot(id, series, data, opts = {}) {
          const el = document.getElementById(id);
          return new uPlot({ width: Math.max(400, el.clientWidth), height: opts.height || 260, series: [opts.x || {}, ...series],
            scales: opts.scales || { x: { time: false } }, axes: opts.axes, legend: { live: true } }, data, el);
        }
        function line(label, stroke, extra = {}) { return { label, stroke, width: 1.5, spanGaps: false, points: { show: false }, ...extra }; }

        """;

    public static string Encode(string s) => WebUtility.HtmlEncode(s);
}
