using System.Reflection;

namespace ActorNat.Node.Dashboard;

/// <summary>
/// The dashboard's files, embedded in this assembly at build time: the page (www/) and the charting library uPlot,
/// copied from npm's node_modules (web/package.json pins it; the build runs `npm ci` when it is missing). Nothing
/// is fetched at run time. The CLI's HTML reports inline the same library from here.
/// </summary>
public static class DashboardAssets
{
    public const string ChartScript = "uPlot.iife.min.js", ChartStyle = "uPlot.min.css";
    private const string Prefix = "dashboard/";

    public static IEnumerable<string> Names =>
        typeof(DashboardAssets).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Select(n => n[Prefix.Length..]);

    public static Stream? Open(string name) => typeof(DashboardAssets).Assembly.GetManifestResourceStream(Prefix + name);

    public static string ReadText(string name)
    {
        using var s = Open(name) ?? throw new FileNotFoundException($"dashboard asset {name} is not embedded (was `npm ci` run in src/ActorNat.Node/Dashboard/web?)", name);
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    public static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
