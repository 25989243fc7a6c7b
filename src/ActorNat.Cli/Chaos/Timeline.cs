using System.Text.Json;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// A failover's phases, in seconds from the fault: the survivors saw the node unreachable, downed it (a partitioned
/// node fences itself too), its pools' shards had new homes, those pools had replayed their journals, its conntrack
/// shards had new homes, and the first and last affected flow answered again. Null: the phase did not happen (a pause
/// too short to be downed) or was not seen.
/// </summary>
public sealed record Timeline
{
    /// <summary>A survivor saw the node unreachable, or found it gone (its remoting port refused connects: a kill).</summary>
    public double? Unreachable { get; set; }
    /// <summary>A survivor found the node gone and downed it at once (GoneMemberDowner).</summary>
    public double? Gone { get; set; }
    public double? Downed { get; set; }
    public double? Removed { get; set; }
    public double? Fenced { get; set; }
    public double? PoolHomesFirst { get; set; }
    public double? PoolHomesLast { get; set; }
    public double? PoolsRecoveredFirst { get; set; }
    public double? PoolsRecoveredLast { get; set; }
    public double? ConntrackHomesFirst { get; set; }
    public double? ConntrackHomesLast { get; set; }
    public double? FlowsFirst { get; set; }
    public double? FlowsLast { get; set; }
    /// <summary>Pools of the lost node not recovered elsewhere within the window (remembered pools must all come back).</summary>
    public int PoolsNotRecovered { get; set; }

    /// <summary>The phases in order, named as the JSON names them.</summary>
    public IEnumerable<(string Name, double? Seconds)> Phases()
    {
        yield return ("unreachable", Unreachable);
        yield return ("downed", Downed);
        yield return ("fenced", Fenced);
        yield return ("pool_homes_last", PoolHomesLast);
        yield return ("pools_recovered_last", PoolsRecoveredLast);
        yield return ("conntrack_homes_last", ConntrackHomesLast);
        yield return ("flows_first", FlowsFirst);
        yield return ("flows_last", FlowsLast);
    }

    public object ToJson() => new
    {
        unreachable = R(Unreachable), gone = R(Gone), downed = R(Downed), removed = R(Removed), fenced = R(Fenced),
        pool_homes = new[] { R(PoolHomesFirst), R(PoolHomesLast) },
        pools_recovered = new[] { R(PoolsRecoveredFirst), R(PoolsRecoveredLast) },
        conntrack_homes = new[] { R(ConntrackHomesFirst), R(ConntrackHomesLast) },
        flows_answered = new[] { R(FlowsFirst), R(FlowsLast) },
        pools_not_recovered = PoolsNotRecovered,
    };

    public string ToText() =>
        $"unreachable {T(Unreachable)}{(Gone is null ? "" : $" gone {T(Gone)}")} downed {T(Downed)}{(Fenced is null ? "" : $" fenced {T(Fenced)}")} pool homes {T(PoolHomesFirst)}-{T(PoolHomesLast)} " +
        $"pools recovered {T(PoolsRecoveredFirst)}-{T(PoolsRecoveredLast)} conntrack homes {T(ConntrackHomesFirst)}-{T(ConntrackHomesLast)} flows {T(FlowsFirst)}-{T(FlowsLast)}";

    private static double? R(double? s) => s is null ? null : Math.Round(s.Value, 3);
    private static string T(double? s) => s is null ? "-" : $"{s:F2}";

    /// <summary>
    /// Reads every node's activation log once and fills the cluster-side phases of each fault: what the survivors
    /// logged about the lost node's address (its incarnation at the fault), and where the entities it had were started
    /// again (the first start elsewhere within a minute of the fault, of each pool and conntrack shard it had).
    /// </summary>
    public static void Fill(string runDir, IReadOnlyList<FaultRecord> faults)
    {
        var lines = new List<Line>();
        foreach (var file in Directory.EnumerateFiles(runDir, "node*.activations.jsonl"))
        {
            int node = int.Parse(Path.GetFileName(file)["node".Length..].Split('.')[0]);
            foreach (var line in File.ReadLines(file))
            {
                if (line.Length == 0 || line.Contains("\"up\":false", StringComparison.Ordinal)) continue;
                JsonElement e;
                try { using var d = JsonDocument.Parse(line); e = d.RootElement.Clone(); } catch (JsonException) { continue; } // a line cut by SIGKILL
                lines.Add(new Line(node, e.GetProperty("inc").GetString()!, e.GetProperty("t").GetInt64(),
                    e.TryGetProperty("ev", out var ev) ? ev.GetString() : null,
                    e.TryGetProperty("member", out var m) ? m.GetString() : e.TryGetProperty("entity", out var en) ? en.GetString() : null,
                    e.TryGetProperty("fence", out var fe) && fe.GetBoolean() && e.GetProperty("why").GetString() is "minority" or "lease"));
            }
        }
        lines.Sort((a, b) => a.T.CompareTo(b.T));
        foreach (var f in faults.Where(f => f.AtUnixMs > 0))
        {
            long at = f.AtUnixMs, until = at + 60_000;
            double S(long t) => (t - at) / 1000.0;
            var tl = f.Timeline;
            // The lost node's address: the `self` line of its incarnation running at the fault.
            var self = lines.LastOrDefault(l => l.Node == f.Node && l.T <= at && l.Ev == "self");
            string? addr = self?.Id, lostInc = self?.Inc;
            var poolFirst = new Dictionary<string, long>();
            var poolRecovered = new Dictionary<string, long>();
            var shardFirst = new Dictionary<string, long>();
            foreach (var (node, inc, t, ev, name, minorityFence) in lines)
            {
                if (t < at) continue;
                if (t > until) break;
                if (node == f.Node && inc == lostInc)
                {
                    // Cut off, the node fences itself before the others may take over (a paused one only when it runs again).
                    if (minorityFence && f.Kind == "partition") tl.Fenced ??= S(t);
                    continue;
                }
                if (name is null) continue;
                if (ev is not null)
                {
                    var member = name;
                    if (ev == "recovered") { if (f.Pools.Contains(member)) poolRecovered.TryAdd(member, t); continue; }
                    if (member != addr) continue;
                    if (ev == "unreachable") tl.Unreachable ??= S(t);
                    else if (ev == "gone") { tl.Gone ??= S(t); tl.Unreachable = Math.Min(tl.Unreachable ?? double.MaxValue, S(t)); }
                    else if (ev == "downed") tl.Downed ??= S(t);
                    else if (ev == "removed") tl.Removed ??= S(t);
                    continue;
                }
                var id = name;
                if (id.StartsWith("pool-", StringComparison.Ordinal)) { if (f.Pools.Contains(id)) poolFirst.TryAdd(id, t); }
                else if (id.StartsWith("ct-", StringComparison.Ordinal))
                {
                    var shard = Placement.ConntrackShard(id);
                    if (f.Shards.Contains(shard)) shardFirst.TryAdd(shard, t);
                }
            }
            tl.Downed ??= tl.Removed; // a member removed without a MemberDowned seen first (it left)
            if (poolFirst.Count > 0) { tl.PoolHomesFirst = S(poolFirst.Values.Min()); tl.PoolHomesLast = S(poolFirst.Values.Max()); }
            if (poolRecovered.Count > 0) { tl.PoolsRecoveredFirst = S(poolRecovered.Values.Min()); tl.PoolsRecoveredLast = S(poolRecovered.Values.Max()); }
            if (shardFirst.Count > 0) { tl.ConntrackHomesFirst = S(shardFirst.Values.Min()); tl.ConntrackHomesLast = S(shardFirst.Values.Max()); }
            tl.PoolsNotRecovered = f.Pools.Count(p => !poolRecovered.ContainsKey(p));
        }
    }

    /// <summary>One line of an activation log: a cluster event (Ev, Id = member or pool), an entity start (Id), or the minority fence going up.</summary>
    private sealed record Line(int Node, string Inc, long T, string? Ev, string? Id, bool MinorityFence);
}
