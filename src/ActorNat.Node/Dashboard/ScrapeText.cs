using System.Globalization;

namespace ActorNat.Node.Dashboard;

/// <summary>One sample of the Prometheus text exposition: name, labels, value.</summary>
public sealed record ScrapeSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out var v) ? v : "";
}

/// <summary>
/// Reads the Prometheus text format (the node's own /metrics output) back into samples, so the dashboard shows the
/// very numbers a Prometheus scrape sees. Comments (# HELP, # TYPE) are skipped; label values are unescaped.
/// </summary>
public static class ScrapeText
{
    public static List<ScrapeSample> Parse(string text)
    {
        var result = new List<ScrapeSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            if (TryParseLine(line, out var s)) result.Add(s);
        }
        return result;
    }

    private static bool TryParseLine(string line, out ScrapeSample sample)
    {
        sample = null!;
        var labels = new Dictionary<string, string>();
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        var name = line[..i];
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (i < line.Length && line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                if (eq < 0 || eq + 1 >= line.Length || line[eq + 1] != '"') return false;
                var key = line[i..eq].Trim(' ', ',');
                var value = new System.Text.StringBuilder();
                int j = eq + 2;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] == '\\' && j + 1 < line.Length)
                    {
                        j++;
                        value.Append(line[j] == 'n' ? '\n' : line[j]);
                    }
                    else value.Append(line[j]);
                }
                labels[key] = value.ToString();
                i = j + 1;
                if (i < line.Length && line[i] == ',') i++;
            }
            i++; // '}'
        }
        var rest = line[Math.Min(i, line.Length)..].Trim().Split(' ');
        if (rest.Length == 0 || !double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            if (rest.Length == 0) return false;
            v = rest[0] switch { "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity, "NaN" => double.NaN, _ => double.NaN };
            if (double.IsNaN(v) && rest[0] != "NaN") return false;
        }
        sample = new ScrapeSample(name, labels, v);
        return true;
    }
}
