using Akka.Actor;

namespace ActorNat.Cluster.Conntrack;

/// <summary>
/// The nodes an entity has leased its entry to (their flow caches answer its steady packets), and the revocation round
/// that must end before the entry changes: every holder has handed its copy back, or its term has passed (counted from
/// this side's last grant, later than the holder's own count). The epoch names the round: a refresh of another round
/// is never merged. Pure bookkeeping over the caller's clock.
/// </summary>
public sealed class LeaseHolders(long termMs)
{
    private readonly Dictionary<Address, (IActorRef Cache, long GrantedMs)> _holders = [];
    private readonly HashSet<Address> _waitingFor = [];

    /// <summary>Starts anywhere, so a new incarnation's rounds never match a lost incarnation's.</summary>
    public ulong Epoch { get; private set; } = (ulong)Random.Shared.NextInt64(1, long.MaxValue);

    public bool Any => _holders.Count > 0;

    public int Count => _holders.Count;

    public bool Revoking { get; private set; }

    /// <summary>A grant (or a renewal) to the node's cache at <paramref name="nowMs"/>.</summary>
    public void Granted(IActorRef cache, long nowMs) => _holders[cache.Path.Address] = (cache, nowMs);

    /// <summary>
    /// Starts a round: the caches to ask for their copies back, and the time after which every holder's term has
    /// passed (the round then ends without the missing answers).
    /// </summary>
    public (List<IActorRef> Caches, long LapsedAtMs) BeginRevoke()
    {
        Revoking = true;
        _waitingFor.Clear();
        long lapsed = 0;
        var caches = new List<IActorRef>(_holders.Count);
        foreach (var (node, (cache, granted)) in _holders)
        {
            _waitingFor.Add(node);
            caches.Add(cache);
            lapsed = Math.Max(lapsed, granted + termMs);
        }
        return (caches, lapsed);
    }

    /// <summary>A holder handed its copy back; true once every holder has.</summary>
    public bool Released(Address node)
    {
        _waitingFor.Remove(node);
        return _waitingFor.Count == 0;
    }

    /// <summary>Ends the round: no holder left, and a new epoch for the grants that follow.</summary>
    public void EndRound()
    {
        Revoking = false;
        _waitingFor.Clear();
        _holders.Clear();
        Epoch++;
    }
}
