using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Chaos;

public sealed partial class ChaosRunner
{
    private async Task<(int, string, string)> Check(List<(string Kind, int Node)> schedule, CancellationToken ct)
    {
        var nodes = InService();
        var rng = new Random(o.Seed);
        progress.WriteLine("chaos: checking");

        // Unknown (and failed) first packets: an idempotent retry tells whether a mapping exists; never acknowledged.
        var unresolved = _flows.Values.Where(f => f.Ack is null).ToList();
        int resolvedExisting = 0, resolvedNone = 0;
        var resolvedVerdicts = new List<(Flow, Wire.Verdict)>();
        await Parallel.ForEachAsync(unresolved, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (f, c) =>
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                var (outcome, v) = await _c.Send(nodes[(f.Id + attempt) % nodes.Length], f, "resolve", c);
                if (outcome == Outcome.Unknown) continue;
                lock (resolvedVerdicts)
                {
                    if (outcome == Outcome.Ack) { resolvedVerdicts.Add((f, v!)); if (v!.Created) resolvedNone++; else resolvedExisting++; }
                    else resolvedNone++;
                }
                return;
            }
        });

        // Every acknowledged mapping answers with the same translation (same entry, not a new one).
        List<Flow> acked; lock (_acked) acked = [.. _acked];
        await Parallel.ForEachAsync(acked, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (f, c) =>
        {
            for (int attempt = 0; attempt < 5; attempt++)
            {
                var (outcome, _) = await Recheck(f, nodes[(f.Id + attempt) % nodes.Length], "verify", c);
                if (outcome == Outcome.Ack) return;
            }
            lock (f) if (f.Lost is null) { f.Lost = "no answer to 5 tries at the end"; Violation($"flow {f.Id}: acknowledged, no answer at the end"); }
        });
        int lost = acked.Count(f => f.Lost is not null);

        // No reply tuple held by two flows, as the client saw them (acknowledged and resolved mappings).
        var byReply = acked.Select(f => (f.Id, Reply: Flow.Key(f.Ack!.Reply), f.Ack!.ConntrackId))
            .Concat(resolvedVerdicts.Select(x => (x.Item1.Id, Reply: Flow.Key(x.Item2.Reply), x.Item2.ConntrackId)))
            .GroupBy(x => x.Reply).Where(g => g.Select(x => x.ConntrackId).Distinct().Count() > 1).ToList();
        foreach (var g in byReply) Violation($"client history: reply tuple {g.Key} answered for flows {string.Join(", ", g.Select(x => x.Id))}");

        // The live table: every entry of every pool (conntrack -L through one node).
        var live = new List<Wire.ConntrackEntry>();
        for (int attempt = 0; ; attempt++)
        {
            // Through each node in turn: a listing asks every pool, and one of them may just be moving.
            try
            {
                live.Clear();
                using var call = _c.Admin(nodes[attempt % nodes.Length]).ConntrackList(new Wire.ConntrackFilter(), _c.Headers, deadline: DateTime.UtcNow.AddSeconds(60), cancellationToken: ct);
                await foreach (var batch in call.ResponseStream.ReadAllAsync(ct)) live.AddRange(batch.Entries);
                break;
            }
            catch (RpcException e) when (attempt < 5)
            {
                Note($"conntrack -L through node {nodes[attempt % nodes.Length]} failed ({e.StatusCode}: {e.Status.Detail}); again");
            }
        }
        var liveDup = live.GroupBy(e => Flow.Key(e.Reply)).Where(g => g.Count() > 1).ToList();
        foreach (var g in liveDup) Violation($"live table: reply tuple {g.Key} held by entries {string.Join(", ", g.Select(e => $"{e.Id}@{e.Node}"))}");
        var liveIds = live.Select(e => e.Id).ToHashSet();
        int ackedMissingLive = acked.Count(f => !liveIds.Contains(f.Ack!.ConntrackId));
        if (ackedMissingLive > 0) Violation($"live table: {ackedMissingLive} acknowledged entries missing from conntrack -L");

        // The durable journal.
        JournalCheck.Result? journal = null;
        var cs = _cluster?.PostgresConnectionString();
        if (cs is not null)
        {
            journal = await JournalCheck.Run(cs, ct);
            foreach (var d in journal.Details) Violation(d);
        }
        else Note("journal not checked: no PostgreSQL of this run (--targets without --run-dir, or one node on SQLite)");

        // No entity active on two nodes at once: the nodes' activation logs, fenced periods excluded.
        ActivationCheck.Result? activations = null;
        if (_cluster is not null)
        {
            List<(int, long)> kills; lock (_cluster.Kills) kills = [.. _cluster.Kills];
            activations = ActivationCheck.Run(_cluster.RunDir, kills);
            foreach (var d in activations.Details) Violation(d);
            if (activations.Files == 0) Note("no activation logs in the run dir (nodes started without --activation-log)");
        }
        else Note("activations not checked: no run dir of cluster.sh");
        // Journal writes refused because another incarnation had taken the sequence number: shown, not counted as a
        // double activation (a write already on its way to the database when its node froze can arrive after the
        // pool moved; it is never acknowledged: the fence holds the answer back).
        var conflicts = _cluster?.LogLines(new Regex("journal_uq|duplicate key value", RegexOptions.IgnoreCase)).ToList() ?? [];
        int doubleActivations = activations?.Overlaps ?? 0;

        // Each failover's phases, from the nodes' activation logs (cluster events, entity starts, pool recoveries).
        if (_cluster is not null) Timeline.Fill(_cluster.RunDir, _faults);
        var phases = new Dictionary<string, object>();
        foreach (var name in _faults.SelectMany(f => f.Timeline.Phases().Select(p => p.Name)).Distinct())
        {
            var v = _faults.Select(f => f.Timeline.Phases().First(p => p.Name == name).Seconds).Where(x => x is not null).Select(x => x!.Value).Order().ToList();
            double Q(double q) => v.Count == 0 ? 0 : v[Math.Min(v.Count - 1, Math.Max(0, (int)Math.Ceiling(q * v.Count) - 1))];
            phases[name] = new { p50 = Math.Round(Q(0.5), 3), p99 = Math.Round(Q(0.99), 3), max = Math.Round(v.Count == 0 ? 0 : v[^1], 3), faults = v.Count };
        }

        var history = _c.History.ToArray();
        int failed = history.Count(h => h.Outcome != Outcome.Ack && h.Kind is "create" or "recheck" or "probe");
        var rec = _recoveries.Order().ToList();
        double P(double q) => rec.Count == 0 ? 0 : rec[Math.Min(rec.Count - 1, (int)Math.Ceiling(q * rec.Count) - 1)];
        int dupTuples = liveDup.Count + byReply.Count + (journal?.DuplicateReservations ?? 0) + (journal?.DuplicateEntityReplies ?? 0);

        var json = JsonSerializer.Serialize(new
        {
            seed = o.Seed, nodes = _nodeCount,
            faults = _faults.Count,
            fault_kinds = _faults.GroupBy(f => f.Kind).ToDictionary(g => g.Key, g => g.Count()),
            requests = history.Length,
            acknowledged = acked.Count,
            lost_acknowledged = lost,
            unknown_resolved = new { existing = resolvedExisting, absent_or_new = resolvedNone, unresolved = unresolved.Count - resolvedExisting - resolvedNone },
            duplicate_reply_tuples = dupTuples,
            double_activations = doubleActivations,
            failed_requests = failed,
            live_entries = live.Count,
            journal = journal is null ? null : new { pools = journal.Pools, reservations = journal.Reservations, live_entities = journal.LiveEntities,
                duplicate_reservations = journal.DuplicateReservations, duplicate_entity_replies = journal.DuplicateEntityReplies,
                key_conflicts_in_logs = conflicts.Count },
            activations = activations is null ? null : new { logs = activations.Files, incarnations = activations.Incarnations, starts = activations.Activations, overlaps = activations.Overlaps },
            phases_s = phases,
            collateral = _cluster is null ? null : Collateral.Read(_cluster.RunDir, _faults).ToJson(),
            listing_complete_s = _faults.Any(f => f.ListingCompleteS is not null) ? new { max = _faults.Max(f => f.ListingCompleteS), all = _faults.Where(f => f.ListingCompleteS is not null).Select(f => f.ListingCompleteS) } : null,
            recovery_s = new { p50 = Math.Round(P(0.50), 3), p99 = Math.Round(P(0.99), 3), max = Math.Round(rec.Count == 0 ? 0 : rec[^1], 3), affected_flows = rec.Count },
            per_fault = _faults.Select(f => new
            {
                f.Index, f.Kind, f.Node, at_s = f.AtMs / 1000.0, recovery_max_s = Math.Round(f.RecoveryMaxS, 3), f.Sampled, f.Affected,
                pools = f.Pools.Count, conntrack_shards = f.Shards.Count, shards_with_flows = f.ShardsWithFlows, shards_sampled = f.ShardsSampled,
                timeline_s = f.Timeline.ToJson(), listing_complete_s = f.ListingCompleteS, failed = f.FailedRequests, unknown = f.UnknownRequests, note = f.Note,
            }),
            violations = _violations.Count,
            notes = _notes,
        }, new JsonSerializerOptions { WriteIndented = false });

        var t = new StringBuilder();
        t.AppendLine($"chaos: seed {o.Seed}, {_nodeCount} nodes, {_faults.Count} faults ({string.Join(", ", _faults.GroupBy(f => f.Kind).Select(g => $"{g.Count()} {g.Key}"))}), {history.Length} requests");
        t.AppendLine($"  acknowledged mappings       {acked.Count}");
        t.AppendLine($"  lost acknowledged           {lost}");
        t.AppendLine($"  unknown/failed first packets {unresolved.Count}: retry found {resolvedExisting} existing, {resolvedNone} absent (created now or dropped), never counted as acknowledged");
        t.AppendLine($"  duplicate reply tuples      {dupTuples} (client history {byReply.Count}, live table {liveDup.Count} of {live.Count} entries, journal {(journal is null ? "not checked" : $"{journal.DuplicateReservations} in {journal.Reservations} reservations of {journal.Pools} pools, {journal.DuplicateEntityReplies} in {journal.LiveEntities} created entities")})");
        t.AppendLine($"  double activations          {doubleActivations} ({(activations is null ? "not checked" : $"{activations.Activations} activations of {activations.Incarnations} node incarnations")}; journal key conflicts in node logs: {conflicts.Count})");
        t.AppendLine($"  failed/unknown requests     {failed}");
        t.AppendLine($"  recovery of affected flows  p50 {P(0.5):F2}s p99 {P(0.99):F2}s max {(rec.Count == 0 ? 0 : rec[^1]):F2}s ({rec.Count} affected sampled flows)");
        t.AppendLine("  fault  kind       node  at(s)    recovery-max(s)  affected/sampled  failed  unknown");
        foreach (var f in _faults)
            t.AppendLine($"  {f.Index,5}  {f.Kind,-9}  {f.Node,4}  {f.AtMs / 1000.0,6:F1}   {f.RecoveryMaxS,15:F2}  {f.Affected,8}/{f.Sampled,-8}  {f.FailedRequests,6}  {f.UnknownRequests,7}  {f.Note}");
        t.AppendLine("  failover phases, seconds from the fault (p50 / p99 / max over faults):");
        foreach (var (name, _) in new Timeline().Phases())
            if (phases.TryGetValue(name, out var ph)) t.AppendLine($"    {name,-22} {JsonSerializer.Serialize(ph)}");
        foreach (var f in _faults) t.AppendLine($"  fault {f.Index} {f.Kind} node {f.Node}: {f.Timeline.ToText()}{(f.ListingCompleteS is { } l ? $" conntrack -L whole again {l:F2}" : "")}");
        foreach (var n in _notes) t.AppendLine("  note: " + n);
        if (_violations.Count > 0)
        {
            t.AppendLine($"  FAILED: {_violations.Count} violations");
            foreach (var v in _violations.Take(20)) t.AppendLine("    " + v);
            var file = o.FailureFile ?? Path.Combine(Environment.CurrentDirectory, $"chaos-failure-seed{o.Seed}.json");
            await using (var w = File.CreateText(file))
            {
                await w.WriteAsync(JsonSerializer.Serialize(new
                {
                    seed = o.Seed, options = o, schedule = schedule.Select(s => new { s.Kind, s.Node }), violations = _violations,
                    summary = JsonDocument.Parse(json).RootElement,
                    history = history.OrderBy(h => h.StartMs).Select(h => new { h.StartMs, h.EndMs, h.Flow, h.Node, h.Kind, outcome = h.Outcome.ToString(), h.Detail }),
                    flows = _flows.Values.OrderBy(f => f.Id).Select(f => new { f.Id, first = Flow.Key(new Wire.Tuple { Protocol = f.First.Protocol, SrcAddress = f.First.SrcAddress, SrcPort = f.First.SrcPort, DstAddress = f.First.DstAddress, DstPort = f.First.DstPort }), ack = f.Ack is null ? null : Flow.Key(f.Ack.Rewritten), id = f.Ack?.ConntrackId, f.Lost }),
                }));
            }
            t.AppendLine($"  seed, schedule and history written to {file}");
        }
        else t.AppendLine("  all checks passed");
        return (_violations.Count > 0 ? 1 : 0, t.ToString(), json);
    }
}
