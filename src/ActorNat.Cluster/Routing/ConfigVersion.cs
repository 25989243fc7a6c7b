using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Core.Rules;

namespace ActorNat.Cluster.Routing;

/// <summary>
/// One version of the NAT configuration (addresses, routes, rules), built by replaying its lines; never changed once
/// published, so any thread of the node may decide with it.
/// </summary>
public sealed class ConfigVersion
{
    public static readonly ConfigVersion Empty = new(0, []);

    private readonly NatEngine _engine;
    private readonly (uint Min, uint Max)[] _natSpace;

    public ConfigVersion(long version, IReadOnlyList<string> lines)
    {
        Version = version;
        _engine = new NatEngine(SystemClock.Instance, new SeededRandom(1));
        foreach (var line in lines) _engine.Apply(line);
        // Addresses a reply can be sent to: the box's own, and every SNAT --to-source range.
        _natSpace = _engine.Topology.Interfaces.SelectMany(i => i.Addresses).Select(a => (a.Address.Value, a.Address.Value))
            .Concat(_engine.Rules.AllRules.Where(r => r.Target == RuleTarget.Snat).Select(r => (r.ToSourceMin.Value, r.ToSourceMax.Value)))
            .ToArray();
        _engine.Topology.Lookup(default); // compile the route table now, not on a packet thread
    }

    public long Version { get; }
    public NatEngine Engine => _engine;

    public NatDecision Decide(in FiveTuple original) => NatPolicy.Decide(_engine.Topology, _engine.Rules, original);

    /// <summary>Could this packet be an answer to a translated connection (its destination is a NAT address)?</summary>
    public bool MayBeReply(in FiveTuple tuple)
    {
        uint d = tuple.Dst.Value;
        foreach (var (min, max) in _natSpace)
            if (d >= min && d <= max) return true;
        return false;
    }
}

/// <summary>The node's current configuration, swapped whole by the router actor.</summary>
public sealed class ConfigHolder
{
    private volatile ConfigVersion _current = ConfigVersion.Empty;
    private volatile bool _loaded;
    public ConfigVersion Current => _current;

    /// <summary>
    /// The node has heard from the configuration entity at least once. Until then its timeouts are the kernel's
    /// defaults, not the cluster's, and an entry refreshed with them could be cut short.
    /// </summary>
    public bool Loaded => _loaded;

    internal void Publish(ConfigVersion snapshot) => _current = snapshot;
    internal void MarkLoaded() => _loaded = true;
}
