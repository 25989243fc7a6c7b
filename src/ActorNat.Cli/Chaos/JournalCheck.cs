using ActorNat.Cluster.Messages;
using Npgsql;
using Tuple = ActorNat.Cluster.Messages.Tuple;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// What the durable journal (PostgreSQL, Akka.Persistence.Sql's journal and snapshot tables) says: the reservations
/// every pool holds after replay (latest snapshot, then Reserved/Released) and the conntrack entities still created.
/// </summary>
public static class JournalCheck
{
    public sealed record Result(int Pools, int Reservations, int DuplicateReservations, int LiveEntities, int DuplicateEntityReplies,
        List<string> Details);

    /// <summary>
    /// Events are written by the project's serializer (short manifests "rv", "rd", "cr") or, as found in runs, by Akka's
    /// built-in ProtobufSerializer (id 2) with the type's assembly-qualified name as manifest: the same protobuf bytes.
    /// </summary>
    private static string Kind(string manifest) =>
        manifest == TypeManifest<Reserved>() ? "rv" : manifest == TypeManifest<Released>() ? "rd" : manifest == TypeManifest<Created>() ? "cr" : manifest;

    private static string TypeManifest<T>() => $"{typeof(T).FullName}, {typeof(T).Assembly.GetName().Name}";

    private static string Key(Tuple t) => $"{t.Proto}/{t.Src:x8}:{t.Sport}>{t.Dst:x8}:{t.Dport}";

    public static async Task<Result> Run(string connectionString, CancellationToken ct)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync(ct);
        var details = new List<string>();

        // Pools: replay.
        var pools = new Dictionary<string, Dictionary<string, ulong>>();
        var snapSeq = new Dictionary<string, long>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT DISTINCT ON (persistence_id) persistence_id, sequence_number, snapshot, manifest FROM snapshot
            WHERE persistence_id LIKE 'pool-%' ORDER BY persistence_id, sequence_number DESC
            """, db))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
            {
                var pid = r.GetString(0);
                snapSeq[pid] = r.GetInt64(1);
                var held = pools[pid] = [];
                foreach (var e in EntryList.Parser.ParseFrom((byte[])r[2]).Entries) held[Key(e.Reply)] = e.Id;
            }
        // Replayed as recovery does: the snapshot, then every later event in sequence order (the replay filter is off:
        // the SQL journal's writer id is one per node, not per incarnation, so it cannot tell two incarnations apart).
        await using (var cmd = new NpgsqlCommand(
            "SELECT persistence_id, sequence_number, message, manifest FROM journal WHERE persistence_id LIKE 'pool-%' AND NOT deleted ORDER BY persistence_id, sequence_number", db))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var pid = r.GetString(0);
                if (snapSeq.TryGetValue(pid, out var s) && r.GetInt64(1) <= s) continue; // recovery starts after the snapshot
                if (!pools.TryGetValue(pid, out var held)) pools[pid] = held = [];
                var bytes = (byte[])r[2];
                switch (Kind(r.IsDBNull(3) ? "" : r.GetString(3)))
                {
                    case "rv": { var e = Reserved.Parser.ParseFrom(bytes); held[Key(e.Reply)] = e.ConntrackId; break; }
                    case "rvb": foreach (var e in ReservedBatch.Parser.ParseFrom(bytes).Reserved) held[Key(e.Reply)] = e.ConntrackId; break;
                    case "rd": held.Remove(Key(Released.Parser.ParseFrom(bytes).Reply)); break;
                }
            }
        }
        int reservations = pools.Values.Sum(p => p.Count);
        int dupReservations = 0;
        foreach (var g in pools.SelectMany(p => p.Value.Select(kv => (Pool: p.Key, Reply: kv.Key))).GroupBy(x => x.Reply).Where(g => g.Count() > 1))
        {
            dupReservations++;
            details.Add($"journal: reply tuple {g.Key} reserved in {string.Join(", ", g.Select(x => x.Pool))}");
        }

        // Conntrack entities whose Created event is not deleted: the entries that recover.
        var entityReplies = new Dictionary<string, List<string>>();
        int live = 0;
        await using (var cmd = new NpgsqlCommand(
            "SELECT persistence_id, message FROM journal WHERE persistence_id LIKE 'ct-%' AND manifest IN ('cr', @created) AND NOT deleted", db)
            { Parameters = { new NpgsqlParameter("created", TypeManifest<Created>()) } })
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
            {
                live++;
                var c = Created.Parser.ParseFrom((byte[])r[1]);
                var k = Key(c.Reply);
                if (!entityReplies.TryGetValue(k, out var l)) entityReplies[k] = l = [];
                l.Add(r.GetString(0));
            }
        int dupEntities = 0;
        foreach (var (k, l) in entityReplies.Where(kv => kv.Value.Distinct().Count() > 1))
        {
            dupEntities++;
            details.Add($"journal: reply tuple {k} created by {string.Join(", ", l.Distinct())}");
        }

        return new Result(pools.Count, reservations, dupReservations, live, dupEntities, details);
    }
}
