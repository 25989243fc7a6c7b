using System.Collections.Concurrent;
using System.Diagnostics;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// A bounded load of new UDP flows (each a fresh client ip:port towards one of 250 servers) through one backend,
/// keeping the client-side history: what was acknowledged (with its translation) and what failed.
/// </summary>
public sealed class LoadDriver(INatBackend backend, int workers, int maxFlows = 100_000)
{
    public sealed record Ack(FiveTuple Original, FiveTuple Rewritten, ulong Id, TimeSpan At);

    private readonly ConcurrentQueue<Ack> _acked = new();
    private readonly ConcurrentQueue<(FiveTuple, Exception, TimeSpan)> _failed = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _next;
    private Task? _running;

    public IReadOnlyCollection<Ack> Acked => _acked;
    public IReadOnlyCollection<(FiveTuple Tuple, Exception Error, TimeSpan At)> Failed => _failed;
    public TimeSpan Elapsed => _clock.Elapsed;

    public static FiveTuple Flow(int n) => new(Protocol.Udp,
        new IPv4(0xAC120000u + 2 + (uint)(n / 50000)), new IPv4(0xC0000200u + 1 + (uint)(n % 250)), (ushort)(1024 + n % 50000), 53);

    public void Start() => _running = Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(Work)));

    private async Task Work()
    {
        while (!_stop.IsCancellationRequested)
        {
            int n = Interlocked.Increment(ref _next);
            if (n > maxFlows) return;
            var tuple = Flow(n);
            try
            {
                var v = await backend.TranslateAsync(new Packet(tuple));
                if (v.Kind != VerdictKind.Drop) _acked.Enqueue(new Ack(tuple, v.Rewritten, v.ConntrackId, _clock.Elapsed));
                else _failed.Enqueue((tuple, new InvalidOperationException($"dropped: {v.Reason}"), _clock.Elapsed));
            }
            catch (Exception e)
            {
                _failed.Enqueue((tuple, e, _clock.Elapsed));
            }
        }
    }

    public async Task Stop()
    {
        _stop.Cancel();
        if (_running is not null) await _running;
    }
}

/// <summary>Flags any moment an entity is active on two live nodes at once (from the actors' start/stop reports).</summary>
public sealed class ActivationTracker
{
    private readonly Dictionary<string, string> _active = [];
    private readonly HashSet<string> _dead = [];
    private readonly object _lock = new();
    public List<string> DoubleActivations { get; } = [];
    public HashSet<string> EverActive { get; } = [];
    public Dictionary<string, string> LastHome { get; } = [];

    public void Observe(string node, string entity, bool started)
    {
        lock (_lock)
        {
            if (_dead.Contains(node)) return;
            if (started)
            {
                if (_active.TryGetValue(entity, out var other) && other != node && !_dead.Contains(other))
                    DoubleActivations.Add($"{entity} on {other} and {node}");
                _active[entity] = node;
                EverActive.Add(node);
                LastHome[entity] = node;
            }
            else if (_active.TryGetValue(entity, out var home) && home == node) _active.Remove(entity);
        }
    }

    /// <summary>A node was killed: what it had active is gone with it.</summary>
    public void NodeDied(string node)
    {
        lock (_lock)
        {
            _dead.Add(node);
            foreach (var k in _active.Where(kv => kv.Value == node).Select(kv => kv.Key).ToList()) _active.Remove(k);
        }
    }

    public IReadOnlyList<string> HomedOn(string node)
    {
        lock (_lock) return LastHome.Where(kv => kv.Value == node).Select(kv => kv.Key).ToList();
    }
}
