using System.Text.Json;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// What failover timing cost the nodes that were not at fault: leases that lapsed on them (answers and journal writes
/// refused meanwhile) and members downed that no fault had hit (a false downing: the node is lost and restarted).
/// Read from the activation logs; a node counts as hit by a fault from the fault until <see cref="Grace"/> after its
/// return (a resumed or healed node may still lapse or be downed for what happened during the fault).
/// </summary>
public sealed record Collateral(int LeaseLapses, double LeaseLapsedS, double LongestLapseS, int FalseDownings, IReadOnlyList<string> Details)
{
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    public object ToJson() => new
    {
        lease_lapses = LeaseLapses, lease_lapsed_s = Math.Round(LeaseLapsedS, 3), longest_lapse_s = Math.Round(LongestLapseS, 3),
        false_downings = FalseDownings, details = Details,
    };

    public static Collateral Read(string runDir, IReadOnlyList<FaultRecord> faults)
    {
        var hit = faults.Where(f => f.AtUnixMs > 0)
            .Select(f => (f.Node, From: f.AtUnixMs, Until: f.AtUnixMs + Math.Max(0, f.EndMs - f.AtMs) + (long)Grace.TotalMilliseconds)).ToList();
        bool Hit(int node, long t) => hit.Any(h => h.Node == node && t >= h.From && t <= h.Until);
        var addressOf = new List<(string Address, int Node)>();
        var lapses = new List<(int Node, long From, long To)>();
        var downed = new List<(int Observer, long T, string Member)>();
        foreach (var file in Directory.EnumerateFiles(runDir, "node*.activations.jsonl"))
        {
            int node = int.Parse(Path.GetFileName(file)["node".Length..].Split('.')[0]);
            var open = new Dictionary<string, long>(); // incarnation -> lapse start
            foreach (var line in File.ReadLines(file))
            {
                if (!line.Contains("\"ev\":", StringComparison.Ordinal) && !line.Contains("\"fence\":", StringComparison.Ordinal)) continue;
                JsonElement e;
                try { using var d = JsonDocument.Parse(line); e = d.RootElement.Clone(); } catch (JsonException) { continue; } // cut by SIGKILL
                long t = e.GetProperty("t").GetInt64();
                string inc = e.GetProperty("inc").GetString()!;
                if (e.TryGetProperty("ev", out var ev))
                {
                    var member = e.GetProperty("member").GetString()!;
                    if (ev.GetString() == "self") addressOf.Add((member, node));
                    else if (ev.GetString() == "downed") downed.Add((node, t, member));
                    continue;
                }
                if (e.GetProperty("why").GetString() != "lease") continue;
                if (e.GetProperty("fence").GetBoolean()) open.TryAdd(inc, e.GetProperty("since").GetInt64());
                else if (open.Remove(inc, out var from)) lapses.Add((node, from, t));
            }
        }
        var details = new List<string>();
        var healthy = lapses.Where(l => !Hit(l.Node, l.From)).ToList();
        foreach (var l in healthy) details.Add($"node {l.Node}: lease lapsed {(l.To - l.From) / 1000.0:0.000} s at {DateTimeOffset.FromUnixTimeMilliseconds(l.From):HH:mm:ss.fff}");
        // One line per downed member incarnation (every survivor logs it): its node is the one whose `self` it was.
        var falseDowns = downed.GroupBy(d => d.Member).Select(g => g.MinBy(d => d.T))
            .Where(d => addressOf.Where(a => a.Address == d.Member).Select(a => a.Node).DefaultIfEmpty(0).All(n => !Hit(n, d.T))).ToList();
        foreach (var d in falseDowns) details.Add($"{d.Member} downed at {DateTimeOffset.FromUnixTimeMilliseconds(d.T):HH:mm:ss.fff} with no fault on it");
        return new Collateral(healthy.Count, healthy.Sum(l => (l.To - l.From) / 1000.0),
            healthy.Count == 0 ? 0 : healthy.Max(l => (l.To - l.From) / 1000.0), falseDowns.Count, details);
    }
}
