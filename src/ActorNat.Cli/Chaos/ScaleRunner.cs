using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using ActorNat.Cli.Bench;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// `actornat chaos --scale`: new flows under a steady load while the cluster shrinks by graceful leaves (3, 2, 1 nodes:
/// the load balancer drains a node, then it gets SIGTERM and hands its shards off) and grows by joins (2, 3). Reports
/// throughput at each size and the requests that failed during each change (expected: 0).
/// </summary>
public sealed class ScaleRunner(ChaosOptions o, double seconds, TextWriter progress)
{
    private readonly HashSet<int> _inService = [];
    private readonly ConcurrentDictionary<int, int> _inFlight = new();
    private readonly ConcurrentBag<Flow> _acked = [];
    private int _next;

    private int[] InService() { lock (_inService) return [.. _inService]; }

    public async Task<(int, string, string)> Run(CancellationToken ct)
    {
        var script = ClusterControl.FindScript() ?? throw new InvalidOperationException("deploy/local/cluster.sh not found");
        var run = o.RunDir ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!)!, ".run", "chaos");
        var cl = new ClusterControl(script, run);
        using var c = new Clients(o.Token);
        try { await cl.Down(ct); } catch { }
        progress.WriteLine($"chaos --scale: starting 3 nodes in {run}");
        await cl.Up(3, ct);
        foreach (var (i, url) in cl.Urls) { c.Set(i, url); lock (_inService) _inService.Add(i); }
        try
        {
            await c.Admin(1).ApplyConfigAsync(new Wire.ConfigLines { Lines = { FlowSpace.ArticleConfig } }, c.Headers, cancellationToken: ct);
            await c.Admin(1).ApplyConfigAsync(new Wire.ConfigLines { Lines = { "sysctl -w net.netfilter.nf_conntrack_udp_timeout=86400", "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_syn_sent=86400", "sysctl -w net.netfilter.nf_conntrack_max=0" } }, c.Headers, cancellationToken: ct);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var workers = Enumerable.Range(0, o.Concurrency).Select(w => Task.Run(() => Worker(c, w, stop.Token))).ToArray();
            var rows = new List<(string Phase, int Nodes, double PerSecond, int Failed)>();
            var changes = new List<(string Change, int Failed, double Seconds)>();

            async Task Measure(string phase)
            {
                await Task.Delay(2000, ct); // settle after a change before the measured window (not a synchronisation: the change was awaited)
                long t0 = c.NowMs;
                int before = c.History.Count(h => h.Outcome == Outcome.Ack);
                await Task.Delay(TimeSpan.FromSeconds(seconds), ct); // the measured window
                long t1 = c.NowMs;
                var window = c.History.Where(h => h.StartMs >= t0 && h.EndMs <= t1).ToList();
                var row = (phase, InService().Length, window.Count(h => h.Outcome == Outcome.Ack) / ((t1 - t0) / 1000.0), window.Count(h => h.Outcome != Outcome.Ack));
                rows.Add(row);
                progress.WriteLine($"chaos --scale: {phase}: {row.Item2} nodes, {row.Item3:F0} new flows/s, {row.Item4} failed");
            }
            async Task Change(string what, Func<Task> action)
            {
                long t0 = c.NowMs;
                await action();
                await WaitUp(c, cl, ct);
                await Task.Delay(TimeSpan.FromSeconds(o.Nodes > 0 ? 12 : 0), ct); // shards rebalance every 10 s: the window covers one round
                long t1 = c.NowMs;
                int failed = c.History.Count(h => h.StartMs >= t0 && h.StartMs <= t1 && h.Outcome != Outcome.Ack);
                changes.Add((what, failed, (t1 - t0) / 1000.0));
                progress.WriteLine($"chaos --scale: {what}: {failed} failed requests in {(t1 - t0) / 1000.0:F1}s");
            }
            async Task Leave(int n)
            {
                lock (_inService) _inService.Remove(n); // the load balancer drains the node first
                var deadline = DateTime.UtcNow.AddSeconds(15);
                while (_inFlight.GetValueOrDefault(n) > 0 && DateTime.UtcNow < deadline) await Task.Delay(10, ct); // its in-flight calls end
                await cl.Leave(n, ct);
            }
            async Task Join(int n)
            {
                await cl.Start(n, ct);
                c.Set(n, cl.Urls[n]);
                await WaitUp(c, cl, ct);
                lock (_inService) _inService.Add(n);
            }

            await Measure("3 nodes");
            await Change("node 3 leaves (SIGTERM)", () => Leave(3));
            await Measure("2 nodes");
            await Change("node 2 leaves (SIGTERM)", () => Leave(2));
            await Measure("1 node");
            await Change("node 2 joins", () => Join(2));
            await Measure("2 nodes (after join)");
            await Change("node 3 joins", () => Join(3));
            await Measure("3 nodes (after join)");
            stop.Cancel();
            await Task.WhenAll(workers.Select(t => t.ContinueWith(_ => { })));

            // Every acknowledged mapping still answers the same.
            int lost = 0;
            var nodes = InService();
            await Parallel.ForEachAsync(_acked, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (f, t) =>
            {
                var (outcome, v) = await c.Send(nodes[f.Id % nodes.Length], f, "verify", t);
                if (outcome != Outcome.Ack || f.Differs(v!) is not null) Interlocked.Increment(ref lost);
            });
            int failedChanges = changes.Sum(x => x.Failed);
            var sb = new StringBuilder();
            sb.AppendLine($"chaos --scale: {Environment.ProcessorCount} cores, concurrency {o.Concurrency}, unary new flows (UDP/TCP SYN), {seconds}s per size");
            foreach (var r in rows) sb.AppendLine($"  {r.Phase,-22} {r.PerSecond,8:F0} new flows/s  failed {r.Failed}");
            foreach (var x in changes) sb.AppendLine($"  {x.Change,-26} failed {x.Failed} in {x.Seconds:F1}s");
            sb.AppendLine($"  acknowledged {_acked.Count}, lost {lost}");
            if (Environment.ProcessorCount <= 4)
                sb.AppendLine($"  note: the nodes, PostgreSQL and this load generator share {Environment.ProcessorCount} cores: more nodes add Akka remoting hops and processes on the same cores, so these figures show that rebalancing costs no request, not how far the cluster scales.");
            var json = JsonSerializer.Serialize(new
            {
                cores = Environment.ProcessorCount, concurrency = o.Concurrency,
                throughput = rows.Select(r => new { phase = r.Phase, nodes = r.Nodes, new_flows_per_s = Math.Round(r.PerSecond), failed = r.Failed }),
                changes = changes.Select(x => new { change = x.Change, failed = x.Failed, seconds = x.Seconds }),
                failed_requests = failedChanges + rows.Sum(r => r.Failed), acknowledged = _acked.Count, lost_acknowledged = lost,
            });
            return (failedChanges + rows.Sum(r => r.Failed) + lost > 0 ? 1 : 0, sb.ToString(), json);
        }
        finally
        {
            if (!o.KeepCluster) try { await cl.Down(CancellationToken.None); } catch (Exception e) { progress.WriteLine("chaos --scale: down: " + e.Message); }
        }
    }

    private async Task Worker(Clients c, int w, CancellationToken ct)
    {
        var rng = new Random(o.Seed * 1000 + w);
        while (!ct.IsCancellationRequested)
        {
            var nodes = InService();
            int node = nodes[rng.Next(nodes.Length)];
            var f = Flow.Make(Interlocked.Increment(ref _next), o.Seed);
            _inFlight.AddOrUpdate(node, 1, (_, v) => v + 1);
            try
            {
                var (outcome, v) = await c.Send(node, f, "create", ct);
                if (outcome == Outcome.Ack) { f.Ack = v; _acked.Add(f); }
            }
            catch (OperationCanceledException) { return; }
            finally { _inFlight.AddOrUpdate(node, 0, (_, v) => v - 1); }
        }
    }

    private static async Task WaitUp(Clients c, ClusterControl cl, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            var running = Enumerable.Range(1, 3).Where(cl.Running).ToList();
            bool ok = true;
            foreach (var i in running)
                try
                {
                    var s = await c.Admin(i).ClusterStatusAsync(new Wire.Empty(), c.Headers, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: ct);
                    if (s.Members.Count != running.Count || s.Members.Any(m => m.Status != "Up")) ok = false;
                }
                catch (RpcException) { ok = false; }
            if (ok) return;
            await Task.Delay(250, ct); // polling the members' views until the deadline
        }
        throw new TimeoutException("the cluster did not settle within 90 s");
    }
}
