using ActorNat.Core.Conntrack;
using ActorNat.Core.Nat;
using ActorNat.Core.Routing;

namespace ActorNat.Core.Engine;

/// <summary>One <see cref="NatEngine"/> behind a lock: the whole NAT in one process, state in memory.</summary>
public sealed class LocalNatBackend(NatEngine engine, string nodeName = "local") : INatBackend, IAtomicConfig
{
    private readonly Lock _lock = new();
    // The lines applied through this backend, in order: a batch is tried on a scratch engine rebuilt from them.
    private readonly List<string> _lines = [];

    public NatEngine Engine => engine;

    public ValueTask<Verdict> TranslateAsync(Packet packet, CancellationToken ct = default)
    {
        lock (_lock) return ValueTask.FromResult(engine.Process(packet));
    }

    public ValueTask<Verdict[]> TranslateBatchAsync(IReadOnlyList<Packet> packets, CancellationToken ct = default)
    {
        var verdicts = new Verdict[packets.Count];
        lock (_lock)
            for (int i = 0; i < verdicts.Length; i++) verdicts[i] = engine.Process(packets[i]);
        return ValueTask.FromResult(verdicts);
    }

    public Task ApplyConfigAsync(string line, CancellationToken ct = default)
    {
        lock (_lock)
        {
            engine.Apply(line);
            _lines.Add(line);
        }
        return Task.CompletedTask;
    }

    public Task ApplyConfigAsync(IReadOnlyList<string> lines, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var scratch = new NatEngine(SystemClock.Instance, new SeededRandom(1));
            foreach (var line in _lines) scratch.Apply(line);
            for (int i = 0; i < lines.Count; i++)
            {
                try
                {
                    scratch.Apply(lines[i]);
                }
                catch (Exception e) when (e is ParseException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
                {
                    throw new ConfigLineException(i, e);
                }
            }
            foreach (var line in lines)
            {
                engine.Apply(line);
                _lines.Add(line);
            }
        }
        return Task.CompletedTask;
    }

    public Task<ConfigSnapshot> GetConfigAsync(CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult(Snapshot(engine));
    }

    public static ConfigSnapshot Snapshot(NatEngine engine) => new(
        AddressListing.Lines(engine.Topology).ToList(),
        RouteListing.Lines(engine.Topology).ToList(),
        engine.Rules.Listing().ToList());

    public Task<IReadOnlyList<ConntrackRecord>> ListAsync(ConntrackFilter filter, CancellationToken ct = default)
    {
        lock (_lock)
        {
            var now = engine.NowMs;
            IReadOnlyList<ConntrackRecord> list = engine.Entries().Where(e => filter.Matches(e))
                .Select(e => new ConntrackRecord(e, e.State.RemainingSeconds(now), nodeName)).ToList();
            return Task.FromResult(list);
        }
    }

    public Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult(engine.DestroyWhere(e => filter.Matches(e), DestroyReason.Deleted));
    }

    public Task<long> CountAsync(CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult((long)engine.Entries().Count());
    }

    public Task<IReadOnlyList<(string Name, long Value)>> StatsAsync(CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<(string, long)>>(engine.Stats.All().ToList());
    }
}
