using System.Text.Json;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// No entity active on two nodes at once, from the nodes' activation logs (RUN/nodeI.activations.jsonl, written with
/// --activation-log). An entity is active on a node incarnation from its start to the earliest of: its stop, the
/// process's SIGKILL, the end of the process's log, or the node's fence going up (a fenced node journals nothing and
/// answers nothing; a minority fence that comes down again makes its entities active again).
/// </summary>
public static class ActivationCheck
{
    public sealed record Result(int Files, int Incarnations, long Activations, int Overlaps, List<string> Details);

    private sealed class Incarnation(string id, int node)
    {
        public string Id { get; } = id;
        public int Node { get; } = node;
        public long First = long.MaxValue, Last;
        public long? KilledAt;
        /// <summary>Periods during which the node was fenced: [from, to); to = long.MaxValue for a pause trip.</summary>
        public readonly List<(long From, long To)> Fenced = [];
        public long? FenceOpenSince;
        public long End => Math.Min(KilledAt ?? long.MaxValue, Last);
    }

    public static Result Run(string runDir, IReadOnlyList<(int Node, long UnixMs)> kills)
    {
        var files = Directory.EnumerateFiles(runDir, "node*.activations.jsonl").OrderBy(f => f).ToList();
        var incs = new Dictionary<string, Incarnation>();
        // entity -> (incarnation, start, stop?)
        var spans = new Dictionary<string, List<(Incarnation Inc, long Start, long Stop)>>();
        var open = new Dictionary<(string Inc, string Entity), long>();
        long activations = 0;
        foreach (var file in files)
        {
            int node = int.Parse(Path.GetFileName(file)["node".Length..].Split('.')[0]);
            foreach (var line in File.ReadLines(file))
            {
                if (line.Length == 0) continue;
                JsonElement r;
                try { r = JsonDocument.Parse(line).RootElement; } catch (JsonException) { continue; } // a line cut by SIGKILL
                var id = r.GetProperty("inc").GetString()!;
                long t = r.GetProperty("t").GetInt64();
                if (!incs.TryGetValue(id, out var inc)) incs[id] = inc = new Incarnation(id, node);
                inc.First = Math.Min(inc.First, t);
                inc.Last = Math.Max(inc.Last, t);
                if (r.TryGetProperty("ev", out _)) continue; // a cluster event or a pool's recovery (timelines)
                if (r.TryGetProperty("fence", out var fence))
                {
                    long since = r.GetProperty("since").GetInt64();
                    bool pause = r.GetProperty("why").GetString() == "pause";
                    if (pause) inc.Fenced.Add((since, long.MaxValue));
                    else if (fence.GetBoolean()) inc.FenceOpenSince ??= since;
                    else if (inc.FenceOpenSince is { } from) { inc.Fenced.Add((from, t)); inc.FenceOpenSince = null; }
                    continue;
                }
                var entity = r.GetProperty("entity").GetString()!;
                if (r.GetProperty("up").GetBoolean())
                {
                    activations++;
                    open[(id, entity)] = t;
                }
                else if (open.Remove((id, entity), out var start)) Add(spans, entity, inc, start, t);
            }
        }
        // Kills end the incarnation of that node that was running then (the latest to have started before).
        foreach (var (node, at) in kills)
        {
            var inc = incs.Values.Where(i => i.Node == node && i.First <= at).MaxBy(i => i.First);
            if (inc is not null && (inc.KilledAt is null || inc.KilledAt > at)) inc.KilledAt = at;
        }
        foreach (var inc in incs.Values)
            if (inc.FenceOpenSince is { } from) inc.Fenced.Add((from, long.MaxValue));
        foreach (var ((id, entity), start) in open) Add(spans, entity, incs[id], start, long.MaxValue);

        int overlaps = 0;
        var details = new List<string>();
        foreach (var (entity, list) in spans)
        {
            var acting = list.SelectMany(s => Acting(s.Inc, s.Start, Math.Min(s.Stop, s.Inc.End)).Select(a => (s.Inc, a.From, a.To))).OrderBy(a => a.From).ToList();
            for (int i = 1; i < acting.Count; i++)
            {
                // The earlier span of another incarnation that lasts longest: does it reach past this one's start?
                (Incarnation? Inc, long To) prev = (null, long.MinValue);
                for (int j = 0; j < i; j++)
                    if (acting[j].Inc != acting[i].Inc && acting[j].To > prev.To) prev = (acting[j].Inc, acting[j].To);
                if (prev.Inc is null || prev.To <= acting[i].From) continue;
                overlaps++;
                if (details.Count < 20)
                    details.Add($"activations: {entity} active on node {prev.Inc.Node} ({prev.Inc.Id}) until {prev.To} and on node {acting[i].Inc.Node} ({acting[i].Inc.Id}) from {acting[i].From}");
                break;
            }
        }
        return new Result(files.Count, incs.Count, activations, overlaps, details);
    }

    private static void Add(Dictionary<string, List<(Incarnation, long, long)>> spans, string entity, Incarnation inc, long start, long stop)
    {
        if (!spans.TryGetValue(entity, out var l)) spans[entity] = l = [];
        l.Add((inc, start, stop));
    }

    /// <summary>[start, stop) without the incarnation's fenced periods.</summary>
    private static IEnumerable<(long From, long To)> Acting(Incarnation inc, long start, long stop)
    {
        long from = start;
        foreach (var (f, t) in inc.Fenced.OrderBy(x => x.From))
        {
            if (t <= from) continue;
            if (f >= stop) break;
            if (f > from) yield return (from, f);
            from = Math.Max(from, t);
            if (from >= stop) yield break;
        }
        if (from < stop) yield return (from, stop);
    }
}
