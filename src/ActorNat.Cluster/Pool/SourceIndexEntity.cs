using Akka.Actor;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Cluster.Pool;

/// <summary>
/// The kernel's bysource table for one bucket of client ip:ports: the live mappings of each, newest first. It attaches
/// them to an allocation and sends it to the pool that must decide step 1 (the candidate's address) or, with none,
/// to the pool of the hashed address. Volatile: pools re-register what they hold when they recover.
/// </summary>
public sealed class SourceIndexEntity : ReceiveActor
{
    private const int MaxMappingsPerSource = 16;
    private readonly Dictionary<(uint Proto, uint Client, uint Port), List<SourceMapping>> _map = [];

    private readonly NatNodeContext _ctx;

    public SourceIndexEntity(NatNodeContext ctx)
    {
        _ctx = ctx;
        Receive<LookupThenAllocate>(m => ctx.Messenger.ToEntity(Route(m.Allocate.Clone()), Sender));
        Receive<AllocateBatch>(m =>
        {
            // First packets of one ingress batch: one message on to each pool they fall in (each other node's share
            // of them as one envelope). Routed in place, without a deep clone per packet: a batch's allocations are
            // sent once by its ingress (a late member is asked again through its entity, never through this batch)
            // and read by nobody else.
            if (m.Allocations.Count == 1)
            {
                ctx.Messenger.ToEntity(Route(m.Allocations[0]), Sender);
                return;
            }
            var byPool = new Dictionary<string, PoolAllocateBatch>();
            foreach (var a in m.Allocations)
            {
                var routed = Route(a);
                if (!byPool.TryGetValue(routed.Pool, out var batch)) byPool[routed.Pool] = batch = new PoolAllocateBatch { Pool = routed.Pool };
                batch.Allocations.Add(routed);
            }
            ctx.Messenger.ToEntities(byPool.Values, Sender);
        });
        Receive<RegisterSource>(m =>
        {
            // Unregistered already (the entity's release overtook the pool's registration on another path): stays gone.
            if (_gone.Remove(m.Mapping.ConntrackId)) return;
            var key = (m.Proto, m.Client, m.ClientPort);
            if (!_map.TryGetValue(key, out var list)) _map[key] = list = [];
            list.RemoveAll(x => x.ConntrackId == m.Mapping.ConntrackId);
            list.Insert(0, m.Mapping);
            if (list.Count > MaxMappingsPerSource) list.RemoveAt(list.Count - 1);
        });
        Receive<UnregisterSource>(Unregister);
        Receive<ForgetSources>(m =>
        {
            foreach (var c in m.Connections) Unregister(c);
            Sender.Tell(new SourcesForgotten { Count = (uint)m.Connections.Count });
        });
        Receive<StopEntity>(_ => Context.Stop(Self));
    }

    private void Unregister(UnregisterSource m)
    {
        var key = (m.Proto, m.Client, m.ClientPort);
        if (!_map.TryGetValue(key, out var list) || list.RemoveAll(x => x.ConntrackId == m.ConntrackId) == 0)
        {
            Forget(m.ConntrackId); // not registered yet: its registration may still be on its way (or gone already)
            return;
        }
        if (list.Count == 0) _map.Remove(key);
    }

    /// <summary>Connections unregistered before their registration arrived (bounded: the oldest are forgotten).</summary>
    private readonly HashSet<ulong> _gone = [];
    private readonly Queue<ulong> _goneOrder = new();
    private const int MaxGone = 4096;

    private void Forget(ulong conntrackId)
    {
        if (!_gone.Add(conntrackId)) return;
        _goneOrder.Enqueue(conntrackId);
        if (_goneOrder.Count > MaxGone) _gone.Remove(_goneOrder.Dequeue());
    }

    /// <summary>
    /// Attaches the client ip:port's live mappings and names the pool that decides step 1 (the candidate's address)
    /// or, with none, the pool of the hashed address.
    /// </summary>
    private Allocate Route(Allocate alloc)
    {
        var original = alloc.Original.ToCore();
        var range = alloc.Range.ToCore();
        if (!range.Random && _map.TryGetValue((alloc.Original.Proto, alloc.Original.Src, original.Key), out var list))
            alloc.Candidates.AddRange(list);
        var space = new Candidates(alloc.Candidates);
        var step1 = PortAllocator.KeepOrReuseAddress(ref space, original, range);
        var hashed = SnatHash.Pick(range, original.Src, original.Dst);
        bool elsewhere = step1 is { } ip && ip != hashed;
        alloc.Phase = elsewhere ? 1u : 0u;
        alloc.Pool = Keys.PoolFor(original, elsewhere ? step1!.Value : hashed, _ctx.Options.PoolBuckets);
        return alloc;
    }

    /// <summary>Only the bysource part of a tuple space: where step 1 would look.</summary>
    private readonly struct Candidates(IReadOnlyList<SourceMapping> list) : ITupleSpace
    {
        public bool IsTaken(in FiveTuple tuple) => false;
        public bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd) => false;

        public bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in ActorNat.Core.Nat.NatRange range, out IPv4 natIp, out ushort natPort) =>
            BySource.TryFind(list, range, out natIp, out natPort);
    }

    public static Props Props(NatNodeContext ctx) => Akka.Actor.Props.Create(() => new SourceIndexEntity(ctx));
}
