using ActorNat.Cli.Simulate;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;

namespace ActorNat.Cluster.Tests;

/// <summary>The simulator's packets through a live cluster, on the test cluster's shared manual clock.</summary>
public sealed class ClusterPath(TestCluster cluster, INatBackend ingress) : Simulator.IPacketPath
{
    private ConntrackTimeouts _timeouts = ConntrackTimeouts.Default;

    public void AdvanceTo(long nowMs)
    {
        if (nowMs > cluster.Clock.NowMs) cluster.Clock.Advance(nowMs - cluster.Clock.NowMs);
    }

    public Verdict Process(in Packet packet) => ingress.TranslateAsync(packet).AsTask().GetAwaiter().GetResult();

    public void Apply(string line) => ingress.ApplyConfigAsync(line).GetAwaiter().GetResult();

    /// <summary>Timeouts are configuration too: each one that differs from the kernel's default becomes a sysctl line.</summary>
    public ConntrackTimeouts Timeouts
    {
        get => _timeouts;
        set
        {
            var defaults = ConntrackTimeouts.Default.AsSysctlLines().ToHashSet();
            foreach (var line in value.AsSysctlLines().Where(l => !defaults.Contains(l)))
                Apply("sysctl -w net.netfilter." + line);
            _timeouts = value;
        }
    }

    public IReadOnlyList<ConntrackEntry> Entries() =>
        ingress.ListAsync(ConntrackFilter.All).GetAwaiter().GetResult().Select(r => r.Entry).ToList();

    public long NowMs => cluster.Clock.NowMs;

    public IReadOnlyList<(string Name, long Value)> Stats() => ingress.StatsAsync().GetAwaiter().GetResult();

    public ConfigSnapshot Config() => ingress.GetConfigAsync().GetAwaiter().GetResult();

    public int Delete(ConntrackFilter filter) => ingress.DeleteAsync(filter).GetAwaiter().GetResult();
}
