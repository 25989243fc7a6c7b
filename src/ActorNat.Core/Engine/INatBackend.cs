using ActorNat.Core.Conntrack;

namespace ActorNat.Core.Engine;

/// <summary>The configuration of a NAT box as listings: `ip -o addr`, `ip route`, `iptables -t nat -S`.</summary>
public sealed record ConfigSnapshot(IReadOnlyList<string> Addresses, IReadOnlyList<string> Routes, IReadOnlyList<string> Rules);

/// <summary>
/// What serves packets and administration: one in-process engine (<see cref="LocalNatBackend"/>) or the sharded
/// cluster. The gRPC host speaks only to this.
/// </summary>
public interface INatBackend
{
    ValueTask<Verdict> TranslateAsync(Packet packet, CancellationToken ct = default);

    /// <summary>Verdicts in the order of the packets.</summary>
    ValueTask<Verdict[]> TranslateBatchAsync(IReadOnlyList<Packet> packets, CancellationToken ct = default);

    /// <summary>Applies one `ip …` or `iptables -t nat …` line; throws <see cref="ParseException"/> naming a bad token.</summary>
    Task ApplyConfigAsync(string line, CancellationToken ct = default);

    Task<ConfigSnapshot> GetConfigAsync(CancellationToken ct = default);

    Task<IReadOnlyList<ConntrackRecord>> ListAsync(ConntrackFilter filter, CancellationToken ct = default);

    /// <summary>Deletes the matching entries (freeing their tuples); returns how many.</summary>
    Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct = default);

    Task<long> CountAsync(CancellationToken ct = default);

    Task<IReadOnlyList<(string Name, long Value)>> StatsAsync(CancellationToken ct = default);
}

/// <summary>A backend that applies a batch of configuration lines all or none.</summary>
public interface IAtomicConfig
{
    /// <summary>
    /// Validates every line against the current configuration before applying any; throws
    /// <see cref="ConfigLineException"/> naming the first refused line, having changed nothing.
    /// </summary>
    Task ApplyConfigAsync(IReadOnlyList<string> lines, CancellationToken ct = default);
}

/// <summary>Line <see cref="Index"/> of a batch was refused (the inner exception says why); no line was applied.</summary>
public sealed class ConfigLineException(int index, Exception inner) : Exception(inner.Message, inner)
{
    public int Index { get; } = index;
}
