using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using ActorNat.Cli.Bench;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Chaos;

public sealed record ChaosOptions
{
    public int Nodes { get; init; } = 3;
    public int Faults { get; init; } = 6;
    public int Seed { get; init; } = 1;
    public int Concurrency { get; init; } = 8;
    public string Kinds { get; init; } = "kill,pause,partition";
    public IReadOnlyList<string> Targets { get; init; } = [];
    public string? RunDir { get; init; }
    public string? Token { get; init; }
    public string? FailureFile { get; init; }
    public double DownSeconds { get; init; } = 3;
    public double PauseSeconds { get; init; } = 10;
    public double PartitionSeconds { get; init; } = 12;
    public double WarmupSeconds { get; init; } = 5;
    public bool KeepCluster { get; init; }
    /// <summary>At each kill, poll `conntrack -L` through a survivor until it lists every entry acknowledged before.</summary>
    public bool ListingProbe { get; init; }
}

public sealed record FaultRecord(int Index, string Kind, int Node)
{
    public long AtMs { get; set; }
    /// <summary>The fault's moment on the nodes' clock (Unix ms), for the timeline read from their logs.</summary>
    public long AtUnixMs { get; set; }
    /// <summary>The pools and conntrack shards the node had running when the fault hit it.</summary>
    public HashSet<string> Pools { get; set; } = [];
    public HashSet<string> Shards { get; set; } = [];
    /// <summary>Affected conntrack shards that had an acknowledged flow to sample, and how many of them were sampled.</summary>
    public int ShardsWithFlows { get; set; }
    public int ShardsSampled { get; set; }
    public Timeline Timeline { get; } = new();
    /// <summary>--listing-probe: seconds from the kill until a survivor's listing held every entry acknowledged before it.</summary>
    public double? ListingCompleteS { get; set; }
    public long EndMs { get; set; }
    public int Sampled { get; set; }
    public int Affected { get; set; }
    public double RecoveryMaxS { get; set; }
    public int FailedRequests { get; set; }
    public int UnknownRequests { get; set; }
    public string Note { get; set; } = "";
}

/// <summary>
/// `actornat chaos`: a seeded load through gRPC against every node in service, faults on a seeded schedule (SIGKILL
/// and restart, SIGSTOP/SIGCONT, a loopback partition of one node), a client-side history of every request, and the
/// checks afterwards (acknowledged mappings unchanged, no reply tuple held twice, no entity written by two
/// incarnations, one side of a partition up, recovery times, failures per fault window).
/// </summary>
public sealed partial class ChaosRunner(ChaosOptions o, TextWriter progress)
{
    private readonly ConcurrentDictionary<int, Flow> _flows = new();
    private readonly List<Flow> _acked = [];
    private readonly HashSet<int> _inService = [];
    private readonly List<FaultRecord> _faults = [];
    private readonly List<double> _recoveries = [];
    private readonly List<string> _violations = [];
    private readonly List<string> _notes = [];
    private int _nextFlow;
    private Clients _c = null!;
    private ClusterControl? _cluster;
    private int _nodeCount;

    /// <summary>After <see cref="Run"/>: the faults injected and every request of the load (for `--report`).</summary>
    public IReadOnlyList<FaultRecord> Faults => _faults;
    public IReadOnlyList<HistoryEntry> History => _c is null ? [] : [.. _c.History];

    private void Note(string s) { lock (_notes) _notes.Add(s); progress.WriteLine("chaos: " + s); }
    private void Violation(string s) { lock (_violations) _violations.Add(s); progress.WriteLine("chaos: VIOLATION " + s); }

    private int[] InService() { lock (_inService) return [.. _inService]; }
    private void SetService(int node, bool on) { lock (_inService) { if (on) _inService.Add(node); else _inService.Remove(node); } }

    public async Task<(int Exit, string Text, string Json)> Run(CancellationToken ct)
    {
        _c = new Clients(o.Token);
        try
        {
            await Setup(ct);
            return await Body(ct);
        }
        finally
        {
            if (_cluster is not null)
            {
                try { await ClusterControl.Heal(CancellationToken.None); } catch { }
                if (!o.KeepCluster && o.Targets.Count == 0)
                    try { foreach (var i in Enumerable.Range(1, _nodeCount)) if (_cluster.Running(i)) await _cluster.Cont(i, CancellationToken.None); await _cluster.Down(CancellationToken.None); } catch (Exception e) { progress.WriteLine("chaos: down: " + e.Message); }
            }
            _c.Dispose();
        }
    }

    private async Task Setup(CancellationToken ct)
    {
        var script = ClusterControl.FindScript();
        if (o.Targets.Count > 0)
        {
            for (int i = 0; i < o.Targets.Count; i++) { _c.Set(i + 1, o.Targets[i]); SetService(i + 1, true); }
            _nodeCount = o.Targets.Count;
            // Faults need the processes: possible when the targets are the nodes cluster.sh runs in the run dir.
            if (script is not null && o.RunDir is not null)
            {
                _cluster = new ClusterControl(script, o.RunDir);
                for (int i = 1; i <= _nodeCount; i++)
                    if (!_cluster.Running(i) || File.ReadAllText(Path.Combine(o.RunDir, $"node{i}.url")).Trim() != o.Targets[i - 1].TrimEnd('/'))
                    { Note($"node {i} is not run by cluster.sh in {o.RunDir}: no faults, load and checks only"); _cluster = null; break; }
            }
            else Note("--targets without --run-dir: no faults can be injected (load and checks only)");
        }
        else
        {
            if (script is null) throw new InvalidOperationException("deploy/local/cluster.sh not found above the working directory (or use --targets)");
            var run = o.RunDir ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!)!, ".run", "chaos");
            _cluster = new ClusterControl(script, run);
            progress.WriteLine($"chaos: starting {o.Nodes} nodes (cluster.sh up {o.Nodes}, run dir {run})");
            try { await _cluster.Down(ct); } catch { }
            // This run's activations only (the journal keeps every run's history, and is checked whole).
            if (Directory.Exists(run))
                foreach (var f in Directory.EnumerateFiles(run, "node*.*").Where(f => f.EndsWith(".activations.jsonl") || f.EndsWith(".old"))) File.Delete(f);
            await _cluster.Up(o.Nodes, ct);
            foreach (var (i, url) in _cluster.Urls) { _c.Set(i, url); SetService(i, true); }
            _nodeCount = o.Nodes;
        }
        // The article's router, and timeouts long enough that no mapping of the run expires by itself.
        var admin = _c.Admin(1);
        var have = await admin.AddressListAsync(new Wire.ListRequest(), _c.Headers, cancellationToken: ct);
        if (!have.Lines.Any(l => l.Contains("inet " + FlowSpace.ArticleNatIp + "/", StringComparison.Ordinal)))
            await admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { FlowSpace.ArticleConfig } }, _c.Headers, cancellationToken: ct);
        // Every acknowledged mapping must stay: nothing may expire, and no table limit may early-drop one (a quiet
        // machine acknowledged 258k flows in a 20-fault run, near the default nf_conntrack_max of 262,144, whose
        // early drops the checks would count as lost mappings and reused tuples).
        await admin.ApplyConfigAsync(new Wire.ConfigLines
        {
            Lines = { "sysctl -w net.netfilter.nf_conntrack_udp_timeout=86400", "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_syn_sent=86400", "sysctl -w net.netfilter.nf_conntrack_max=0" },
        }, _c.Headers, cancellationToken: ct);
    }

    private List<(string Kind, int Node)> Schedule()
    {
        var rng = new Random(o.Seed);
        var kinds = o.Kinds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (_cluster is null) return [];
        return Enumerable.Range(0, o.Faults).Select(_ => (kinds[rng.Next(kinds.Count)], 1 + rng.Next(_nodeCount))).ToList();
    }

    private async Task<(int, string, string)> Body(CancellationToken outer)
    {
        var schedule = Schedule();
        if (schedule.Any(s => s.Kind == "partition"))
        {
            var (ok, why) = await ClusterControl.CanPartition(outer);
            if (!ok) { Note("partitions skipped: " + why); schedule = schedule.Select(s => s.Kind == "partition" ? ("pause", s.Node) : s).ToList(); }
        }
        progress.WriteLine($"chaos: seed {o.Seed}, schedule: {string.Join(", ", schedule.Select(s => $"{s.Kind} {s.Node}"))}");

        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(outer);
        var workers = Enumerable.Range(0, o.Concurrency).Select(w => Task.Run(() => Worker(w, stopLoad.Token))).ToArray();
        var ticker = Task.Run(() => Ticker(stopLoad.Token));
        long loadStart = _c.NowMs;
        await WaitFor(() => _c.NowMs > loadStart + o.WarmupSeconds * 1000, TimeSpan.FromSeconds(o.WarmupSeconds + 5), outer);

        for (int k = 0; k < schedule.Count; k++)
        {
            var (kind, node) = schedule[k];
            await RestartExited(outer);
            await WaitAllUp(TimeSpan.FromSeconds(90), outer);
            var f = new FaultRecord(k + 1, kind, node);
            try { await Inject(f, outer); }
            catch (Exception e) when (!outer.IsCancellationRequested) { Violation($"fault {k + 1} ({kind} node {node}) could not be carried out: {e.Message}"); }
            _faults.Add(f);
            // A little steady load between faults.
            long until = _c.NowMs + 3000;
            await WaitFor(() => _c.NowMs >= until, TimeSpan.FromSeconds(10), outer);
        }
        await RestartExited(outer);
        await WaitAllUp(TimeSpan.FromSeconds(90), outer);
        stopLoad.Cancel();
        await Task.WhenAll(workers.Select(t => t.ContinueWith(_ => { })));
        await ticker.ContinueWith(_ => { });
        progress.WriteLine();
        return await Check(schedule, outer);
    }

    private async Task Ticker(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(1000, ct); } catch { return; }
            int acked; lock (_acked) acked = _acked.Count;
            int fail = _c.History.Count(h => h.Outcome != Outcome.Ack);
            progress.Write($"\rchaos: t={_c.NowMs / 1000}s requests={_c.History.Count} acknowledged={acked} not-ok={fail} faults={_faults.Count} in-service=[{string.Join(',', InService().Order())}]   ");
        }
    }

    private async Task Worker(int w, CancellationToken ct)
    {
        var rng = new Random(o.Seed * 1000 + w);
        while (!ct.IsCancellationRequested)
        {
            var nodes = InService();
            if (nodes.Length == 0) { try { await Task.Delay(50, ct); } catch { return; } continue; }
            int node = nodes[rng.Next(nodes.Length)];
            Flow? f = null;
            if (rng.NextDouble() < 0.4) lock (_acked) if (_acked.Count > 0) f = _acked[rng.Next(_acked.Count)];
            try
            {
                if (f is null) await Create(NewFlow(), node, "create", ct);
                else await Recheck(f, node, "recheck", ct);
            }
            catch (OperationCanceledException) { return; }
        }
    }

    private Flow NewFlow()
    {
        var f = Flow.Make(Interlocked.Increment(ref _nextFlow), o.Seed);
        _flows[f.Id] = f;
        return f;
    }

    private async Task<(Outcome, Wire.Verdict?)> Create(Flow f, int node, string kind, CancellationToken ct, TimeSpan? timeout = null)
    {
        var (outcome, v) = await _c.Send(node, f, kind, ct, timeout);
        lock (f)
        {
            if (outcome == Outcome.Ack && f.Ack is null && !f.EverUnknown && !f.EverFailed)
            {
                f.Ack = v; f.AckMs = _c.NowMs;
                lock (_acked) _acked.Add(f);
            }
            else if (outcome == Outcome.Ack && f.Ack is not null) Compare(f, v!, kind);
            else if (outcome == Outcome.Unknown) f.EverUnknown = true;
            else if (outcome == Outcome.Failed) f.EverFailed = true;
        }
        return (outcome, v);
    }

    private async Task<(Outcome, Wire.Verdict?)> Recheck(Flow f, int node, string kind, CancellationToken ct, TimeSpan? timeout = null)
    {
        var (outcome, v) = await _c.Send(node, f, kind, ct, timeout);
        if (outcome == Outcome.Ack) lock (f) Compare(f, v!, kind);
        return (outcome, v);
    }

    private void Compare(Flow f, Wire.Verdict v, string kind)
    {
        var d = f.Differs(v);
        if (d is null || f.Lost is not null) return;
        f.Lost = $"{kind} at t={_c.NowMs}ms: {d}";
        Violation($"flow {f.Id} {Flow.Key(f.Ack!.Original)}: acknowledged mapping changed ({f.Lost})");
    }

    private async Task Inject(FaultRecord f, CancellationToken ct)
    {
        var cl = _cluster!;
        int n = f.Node;
        var (placed, control) = SelectSample(f);
        progress.WriteLine($"\nchaos: fault {f.Index}: {f.Kind} node {n} ({f.Pools.Count} pools, {f.Shards.Count} conntrack shards there; probing {placed.Length} of their flows, {f.ShardsSampled} of {f.ShardsWithFlows} shards with flows, and {control.Length} others)");
        Task probe;
        long at = _c.NowMs;
        switch (f.Kind)
        {
            case "kill":
                await cl.Kill(n, ct);
                at = _c.NowMs;
                f.AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                SetService(n, false);
                probe = Probe(f, at, placed, control, ct);
                if (o.ListingProbe) probe = Task.WhenAll(probe, ListingProbe(f, at, ct));
                await Hold(o.DownSeconds, ct);
                await Restart(n, ct);
                break;
            case "pause":
                await cl.Stop(n, ct);
                at = _c.NowMs;
                f.AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                SetService(n, false);
                probe = Probe(f, at, placed, control, ct);
                await Hold(o.PauseSeconds, ct);
                await cl.Cont(n, ct);
                await BackOrRestart(n, ct);
                break;
            case "partition":
                var others = Enumerable.Range(1, _nodeCount).Where(i => i != n && cl.Running(i)).ToArray();
                await cl.Partition(n, others, ct);
                at = _c.NowMs;
                f.AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                SetService(n, false);
                probe = Probe(f, at, placed, control, ct);
                var minority = MinorityProbe(f, n, at, ct);
                await Hold(o.PartitionSeconds, ct);
                await ClusterControl.Heal(ct);
                await minority;
                await BackOrRestart(n, ct);
                break;
            default:
                throw new ArgumentException("unknown fault kind " + f.Kind);
        }
        await probe;
        await WaitAllUp(TimeSpan.FromSeconds(90), ct);
        SetService(n, true);
        f.EndMs = _c.NowMs;
        var window = _c.History.Where(h => h.StartMs >= at && h.StartMs <= f.EndMs && h.Kind != "minority").ToList();
        f.FailedRequests = window.Count(h => h.Outcome == Outcome.Failed);
        f.UnknownRequests = window.Count(h => h.Outcome == Outcome.Unknown);
        f.AtMs = at;
        progress.WriteLine($"\nchaos: fault {f.Index} done: recovery max {f.RecoveryMaxS:F2}s, {f.Affected}/{f.Sampled} sampled flows affected, failed {f.FailedRequests}, unknown {f.UnknownRequests} {f.Note}");
    }

    private Task Hold(double seconds, CancellationToken ct)
    {
        long until = _c.NowMs + (long)(seconds * 1000);
        return WaitFor(() => _c.NowMs >= until, TimeSpan.FromSeconds(seconds + 5), ct);
    }

    private async Task Restart(int n, CancellationToken ct)
    {
        if (_cluster!.Running(n)) await _cluster.Kill(n, ct);
        await WaitFor(() => !_cluster.Running(n), TimeSpan.FromSeconds(10), ct);
        await _cluster.Start(n, ct);
        _c.Set(n, _cluster.Urls[n]);
    }

    /// <summary>After SIGCONT or a healed partition: the node is back if it is an Up member in its own view with all the others; else it was downed and is restarted.</summary>
    private async Task BackOrRestart(int n, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (!_cluster!.Running(n)) break;
            try
            {
                var s = await _c.Admin(n).ClusterStatusAsync(new Wire.Empty(), _c.Headers, deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: ct);
                var self = s.Members.FirstOrDefault(m => m.IsSelf);
                if (self is { Status: "Up" } && s.Members.Count(m => m.Status == "Up") == RunningCount()) { Note($"node {n} came back by itself"); return; }
                if (self is null || self.Status is "Down" or "Removed" or "Exiting") break;
            }
            catch (RpcException) { }
            await Task.Delay(250, ct); // polling the node's own view until the deadline
        }
        Note($"node {n} was downed (or left) by the cluster: restarted");
        await Restart(n, ct);
    }

    /// <summary>
    /// A node may leave by itself after a fault (downed by the others, or fenced after a long pause): it is started
    /// again before the next fault, as a supervisor would, so every fault hits a full cluster.
    /// </summary>
    private async Task RestartExited(CancellationToken ct)
    {
        if (_cluster is null) return;
        foreach (var i in Enumerable.Range(1, _nodeCount).Where(i => !_cluster.Running(i)))
        {
            Note($"node {i} had exited by itself (downed or fenced): restarted");
            await Restart(i, ct);
        }
    }

    private int RunningCount() => Enumerable.Range(1, _nodeCount).Count(i => _cluster?.Running(i) ?? true);

    /// <summary>Every running node is an Up member in the view of node (any in service), and answers its health check.</summary>
    private async Task WaitAllUp(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int want = RunningCount();
            bool ok = true;
            foreach (var i in Enumerable.Range(1, _nodeCount).Where(i => _cluster?.Running(i) ?? true))
            {
                try
                {
                    var s = await _c.Admin(i).ClusterStatusAsync(new Wire.Empty(), _c.Headers, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: ct);
                    if (s.Members.Count(m => m.Status == "Up") != want || s.Members.Count != want) { ok = false; break; }
                }
                catch (RpcException) { ok = false; break; }
            }
            if (ok) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the cluster did not have {want} Up members within {timeout.TotalSeconds}s");
            await Task.Delay(250, ct); // polling the members' views until the deadline
        }
    }

    /// <summary>
    /// The flows the fault will hit, chosen from the node's activation log just before it: acknowledged flows whose
    /// conntrack shard or pool runs there, one per shard and per pool first, then more, up to <see cref="MaxPlaced"/>;
    /// and a few others, to catch stalls of flows whose state did not move (a lost shard coordinator).
    /// </summary>
    private (Flow[] Placed, Flow[] Control) SelectSample(FaultRecord f)
    {
        var rng = new Random(o.Seed ^ (f.Index * 7919));
        Flow[] acked; lock (_acked) acked = [.. _acked];
        if (_cluster is not null)
        {
            _active ??= new ActiveEntities(_cluster.RunDir);
            var running = _active.On(f.Node);
            f.Pools = running.Where(e => e.StartsWith("pool-", StringComparison.Ordinal)).ToHashSet();
            f.Shards = running.Where(e => e.StartsWith("ct-", StringComparison.Ordinal)).Select(Placement.ConntrackShard).ToHashSet();
        }
        var hit = acked.Select(x => (Flow: x, Where: PlaceOf(x)))
            .Where(x => f.Shards.Contains(x.Where.Shard) || f.Pools.Contains(x.Where.Pool))
            .OrderBy(_ => rng.Next()).ToList();
        var chosen = new List<Flow>();
        var taken = new HashSet<int>();
        // Rounds: every shard and pool gets its k-th flow before any gets its (k+1)-th.
        for (int round = 0; round < 4 && chosen.Count < MaxPlaced; round++)
        {
            foreach (var g in hit.GroupBy(x => f.Shards.Contains(x.Where.Shard) ? "s" + x.Where.Shard : "p" + x.Where.Pool))
            {
                var next = g.Skip(round).FirstOrDefault();
                if (next.Flow is null || chosen.Count >= MaxPlaced || !taken.Add(next.Flow.Id)) continue;
                chosen.Add(next.Flow);
            }
        }
        f.ShardsWithFlows = hit.Select(x => x.Where.Shard).Where(f.Shards.Contains).Distinct().Count();
        f.ShardsSampled = chosen.Select(x => PlaceOf(x).Shard).Where(f.Shards.Contains).Distinct().Count();
        var control = acked.Where(x => !taken.Contains(x.Id)).OrderBy(_ => rng.Next()).Take(24).ToArray();
        return ([.. chosen], control);
    }

    private const int MaxPlaced = 240;
    private ActiveEntities? _active;
    private readonly ConcurrentDictionary<int, (string Shard, string Pool)> _placeOf = new();
    private (string Shard, string Pool) PlaceOf(Flow x) => _placeOf.GetOrAdd(x.Id, _ => (Placement.ShardOf(x), Placement.PoolOf(x)));

    /// <summary>
    /// The recovery of affected flows: each sampled flow is asked again from the nodes in service until it answers
    /// (a try waits up to 2.5 s, so an answer the node gives late is seen when it comes; a failed try is repeated
    /// 100 ms after it began: the resolution). Its recovery is the end of its first acknowledged answer. Affected: a
    /// flow whose conntrack shard was on the node (its entity must start elsewhere), or any sampled flow whose first
    /// try failed or took longer than half a second.
    /// </summary>
    private async Task Probe(FaultRecord f, long at, Flow[] placed, Flow[] control, CancellationToken ct)
    {
        f.Sampled = placed.Length + control.Length;
        var times = await Task.WhenAll(placed.Concat(control).Select(async (flow, idx) =>
        {
            var rng = new Random(idx);
            bool affected = f.Shards.Contains(PlaceOf(flow).Shard), first = true;
            var deadline = at + 90_000;
            while (_c.NowMs < deadline)
            {
                var nodes = InService();
                if (nodes.Length == 0) { await Task.Delay(20, ct); continue; } // waiting for a node in service
                long t0 = _c.NowMs;
                var (outcome, _) = await Recheck(flow, nodes[rng.Next(nodes.Length)], "probe", ct, TimeSpan.FromMilliseconds(2500));
                if (outcome == Outcome.Ack)
                {
                    if (first && _c.NowMs - t0 > 500) affected = true;
                    return (Affected: affected, Seconds: (_c.NowMs - at) / 1000.0);
                }
                affected = true;
                first = false;
                long wait = t0 + 100 - _c.NowMs;
                if (wait > 0) await Task.Delay((int)wait, ct); // the probe's resolution: a failed try is repeated 100 ms after it began
            }
            return (Affected: true, Seconds: double.NaN);
        }));
        var aff = times.Where(t => t.Affected).ToList();
        f.Affected = aff.Count;
        if (aff.Any(t => double.IsNaN(t.Seconds))) Violation($"fault {f.Index}: {aff.Count(t => double.IsNaN(t.Seconds))} sampled flows did not answer within 90 s");
        var ok = aff.Where(t => !double.IsNaN(t.Seconds)).Select(t => t.Seconds).ToList();
        lock (_recoveries) _recoveries.AddRange(ok);
        f.RecoveryMaxS = ok.Count > 0 ? ok.Max() : 0;
        if (ok.Count > 0) { f.Timeline.FlowsFirst = ok.Min(); f.Timeline.FlowsLast = ok.Max(); }
    }

    /// <summary>
    /// How soon `conntrack -L` through a survivor is whole again after a kill: the listing (every pool, paged) is taken
    /// every 250 ms until it holds every entry acknowledged before the kill (an error or a partial listing: again).
    /// </summary>
    private async Task ListingProbe(FaultRecord f, long at, CancellationToken ct)
    {
        HashSet<ulong> want; lock (_acked) want = _acked.Where(x => x.AckMs <= at).Select(x => x.Ack!.ConntrackId).ToHashSet();
        var rng = new Random(f.Index);
        while (_c.NowMs < at + 60_000)
        {
            long t0 = _c.NowMs;
            var nodes = InService();
            var have = new HashSet<ulong>();
            try
            {
                using var call = _c.Admin(nodes[rng.Next(nodes.Length)]).ConntrackList(new Wire.ConntrackFilter(), _c.Headers, deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: ct);
                await foreach (var batch in call.ResponseStream.ReadAllAsync(ct)) foreach (var e in batch.Entries) have.Add(e.Id);
                if (want.IsSubsetOf(have)) { f.ListingCompleteS = (_c.NowMs - at) / 1000.0; return; }
            }
            catch (RpcException) { }
            long wait = t0 + 250 - _c.NowMs;
            if (wait > 0) await Task.Delay((int)wait, ct); // the listing probe's pace
        }
        Note($"fault {f.Index}: no listing through a survivor held every acknowledged entry within 60 s");
    }

    /// <summary>
    /// During a partition, the cut-off node is asked to create new flows: once the split brain resolver has decided
    /// (failure detection + stable-after, well within 8 s here), it must acknowledge nothing, while the majority does.
    /// </summary>
    private async Task MinorityProbe(FaultRecord f, int n, long at, CancellationToken ct)
    {
        long decided = at + 8000, end = at + (long)(o.PartitionSeconds * 1000);
        int lateAcks = 0, acks = 0;
        long lastAck = -1;
        while (_c.NowMs < end)
        {
            var flow = NewFlow();
            var (outcome, _) = await Create(flow, n, "minority", ct, TimeSpan.FromSeconds(2));
            if (outcome == Outcome.Ack)
            {
                acks++; lastAck = _c.NowMs - at;
                if (_c.NowMs > decided) lateAcks++;
            }
            await Task.Delay(200, ct); // the pace of the minority probe, not a synchronisation
        }
        long majorityLate = _c.History.Count(h => h.Outcome == Outcome.Ack && h.StartMs > decided && h.StartMs < end && h.Node != n);
        f.Note = $"(minority node {n}: {acks} acks, last at {lastAck / 1000.0:F1}s; majority acks after decision: {majorityLate})";
        if (lateAcks > 0 && majorityLate > 0)
            Violation($"fault {f.Index}: both sides of the partition acknowledged new flows more than 8 s after it began (minority {lateAcks}, majority {majorityLate})");
        if (majorityLate == 0) Violation($"fault {f.Index}: the majority side acknowledged nothing after the partition was decided");
    }

    private static async Task WaitFor(Func<bool> cond, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in " + timeout);
            await Task.Delay(20, ct); // polling a condition with a deadline
        }
    }
}
