using System.Text.Json;
using Akka.Cluster.Sharding;
using ActorNat.Cluster;
using ActorNat.Core.Net;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// Where a flow's state lives, named as the nodes name it: its conntrack entity's shard (the hash the cluster's
/// extractor uses) and its pool (the reply tuple's pool). With <see cref="ActiveEntities"/> this tells, before a fault,
/// exactly which acknowledged flows the fault will hit.
/// </summary>
public static class Placement
{
    /// <summary>The nodes' defaults (`actornat chaos` starts them with no other).</summary>
    private static readonly ClusterNodeOptions Defaults = new();
    private static readonly HashCodeMessageExtractor Extractor = HashCodeMessageExtractor.Create(Defaults.Shards, m => (string)m, m => m);

    /// <summary>The shard of a conntrack entity, from its activation log name (`ct-ID`) or its id.</summary>
    public static string ConntrackShard(string entity) => Extractor.ShardId(entity.StartsWith("ct-", StringComparison.Ordinal) ? entity[3..] : entity);

    public static FiveTuple ToCore(Wire.Tuple t) =>
        new((Protocol)(byte)t.Protocol, IPv4.Parse(t.SrcAddress), IPv4.Parse(t.DstAddress), (ushort)t.SrcPort, (ushort)t.DstPort);

    public static string ShardOf(Flow f) => ConntrackShard(Keys.Conntrack(ToCore(f.Ack!.Original)));

    /// <summary>The pool's persistence id, as its activation lines name it.</summary>
    public static string PoolOf(Flow f) => "pool-" + Keys.PoolOfReply(ToCore(f.Ack!.Reply), Defaults.PoolBuckets);
}

/// <summary>
/// Reads the nodes' activation logs as they grow (only the new lines each time) and keeps, per node, the entities its
/// latest incarnation has running: the placement a fault is about to hit.
/// </summary>
public sealed class ActiveEntities(string runDir)
{
    private sealed class Tail
    {
        public long Position;
        public string Incarnation = "";
        public readonly HashSet<string> Active = [];
    }

    private readonly Dictionary<int, Tail> _tails = [];

    /// <summary>The entities running on node <paramref name="node"/> now (its latest incarnation).</summary>
    public IReadOnlySet<string> On(int node)
    {
        var path = Path.Combine(runDir, $"node{node}.activations.jsonl");
        if (!_tails.TryGetValue(node, out var tail)) _tails[node] = tail = new Tail();
        if (!File.Exists(path)) return tail.Active;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (fs.Length < tail.Position) { tail.Position = 0; tail.Active.Clear(); tail.Incarnation = ""; } // a new run's file
        fs.Position = tail.Position;
        using var r = new StreamReader(fs);
        string? line;
        long consumed = tail.Position;
        while ((line = r.ReadLine()) is not null)
        {
            if (r.EndOfStream && !line.EndsWith('}')) break; // a line still being written: read it next time
            consumed += System.Text.Encoding.UTF8.GetByteCount(line) + 1;
            if (line.Length == 0) continue;
            JsonElement e;
            try { e = JsonDocument.Parse(line).RootElement; } catch (JsonException) { continue; }
            var inc = e.GetProperty("inc").GetString()!;
            if (inc != tail.Incarnation) { tail.Incarnation = inc; tail.Active.Clear(); } // restarted: nothing runs yet
            if (!e.TryGetProperty("entity", out var ent) || !e.TryGetProperty("up", out var up)) continue;
            if (up.GetBoolean()) tail.Active.Add(ent.GetString()!);
            else tail.Active.Remove(ent.GetString()!);
        }
        tail.Position = consumed;
        return tail.Active;
    }
}
