using Akka.Actor;
using ActorNat.Cluster.Ingress;
using ActorNat.Cluster.Messages;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;

namespace ActorNat.Cluster.Conntrack;

/// <summary>
/// Leases: the entity lets the flow cache of a node whose ingress asked answer the entry's steady packets
/// (<see cref="ConnTracker.IsPureRefresh"/>), takes their refreshes in batches, and takes every copy back before the
/// entry changes in any other way (a packet that may change its state, expiry, eviction, deletion, hand-off or
/// passivation): the message that would change it waits until every holder has handed its copy back (with the
/// refreshes it saw) or its term has passed. So a copy's verdict is always one this entity would have given at that
/// moment, and a cached verdict is never given after the entry changed or went.
/// </summary>
public sealed partial class ConntrackEntity
{
    private const string RevokeTimer = "lease-revoke";
    private LeaseHolders? _leaseHolders;
    private object? _revokeFor;
    private IActorRef _revokeSender = ActorRefs.Nobody;

    private LeaseHolders Leases => _leaseHolders ??= new LeaseHolders(_ctx.FlowCache.TermMs);

    private bool HasLeases => _leaseHolders is { Any: true };

    /// <summary>
    /// A lease for the node whose ingress sent this packet, when the entry is steady. Only an ingress batch asks from a
    /// temporary path (<see cref="BatchCall"/>); its node's flow cache has a well-known path.
    /// </summary>
    private Lease? Grant(IActorRef replyTo, long nowMs)
    {
        if (!ConnTracker.IsSteady(_entry.State) || replyTo.Path.Parent is not { Name: "temp" }) return null;
        var address = replyTo.Path.Address;
        var cache = _ctx.FlowCacheRefs.GetOrAdd(address, (a, system) =>
            system.Provider.ResolveActorRef(new RootActorPath(a) / "user" / FlowCacheActor.Name), (ExtendedActorSystem)Context.System);
        Leases.Granted(cache, nowMs);
        return new Lease { Original = _entry.Original.ToMsg(), Reply = _entry.Reply.ToMsg(), State = _entry.State.ToMsg(), ConntrackId = _entry.Id, Epoch = Leases.Epoch };
    }

    /// <summary>Whether the message may change or end the entry, so the holders' copies must come back first.</summary>
    private bool ChangesEntry(object message)
    {
        switch (message)
        {
            case EntityPacket m:
            {
                if (!_exists || !_ctx.Config.Loaded) return false;
                var packet = m.Packet.ToCore();
                if (_entry.State.IsExpired(_ctx.Clock.NowMs)) return true; // a holder may have seen it refreshed
                if (IcmpErrors.Classify(packet, out _) == TrackStep.Related) return false; // never refreshes or changes
                var t = packet.Tuple;
                if (m.Direction != (uint)Direction.Reply && t != _entry.Reply && t != _entry.Original) return false; // answered invalid
                return !ConnTracker.IsPureRefresh(_entry.State, packet.Flags);
            }
            case Expire:
                return _exists && _entry.State.IsExpired(_ctx.Clock.NowMs);
            case Evict e:
                return _exists && (e.ConntrackId == 0 || e.ConntrackId == _entry.Id);
            case HolderUpdateAck a:
                return !a.Held && _exists;
            case StopEntity:
                return true;
            default:
                return false;
        }
    }

    private void BeginRevoke(object trigger, IActorRef sender)
    {
        _revokeFor = trigger;
        _revokeSender = sender;
        var (caches, lapsedAtMs) = Leases.BeginRevoke();
        var revoke = new LeaseRevoke { Original = _entry.Original.ToMsg(), ConntrackId = _entry.Id, Epoch = Leases.Epoch };
        foreach (var cache in caches) cache.Tell(revoke, Self);
        // Without every answer, go on once every term has passed (a holder stops answering at its own, earlier, end).
        var wait = Math.Max(0, lapsedAtMs - _ctx.Clock.NowMs) + 20;
        Timers.StartSingleTimer(RevokeTimer, RevokeLapsed.Instance, TimeSpan.FromMilliseconds(wait));
        Context.Become(Revoking);
    }

    private void Revoking(object message)
    {
        switch (message)
        {
            case LeaseRevoked r:
                MergeRefreshes(r.ConntrackId, r.Epoch, r.State);
                if (Leases.Released(Sender.Path.Address)) EndRevoke();
                break;
            case LeaseRefresh r:
                // Sent before its holder saw the revocation: its packets were answered before the change.
                MergeRefreshes(r.ConntrackId, r.Epoch, r.State);
                Sender.Tell(new LeaseRenewed { Original = r.Original, ConntrackId = r.ConntrackId, Epoch = r.Epoch, Ended = true });
                break;
            case RevokeLapsed:
                EndRevoke();
                break;
            default:
                Stash.Stash();
                break;
        }
    }

    private void EndRevoke()
    {
        Timers.Cancel(RevokeTimer);
        Leases.EndRound();
        Context.Become(Active);
        var (trigger, sender) = (_revokeFor!, _revokeSender);
        _revokeFor = null;
        _revokeSender = ActorRefs.Nobody;
        Dispatch(trigger, sender);
        Stash.UnstashAll();
    }

    /// <summary>A holder's batch of refreshes: merged, and its lease renewed (or ended, if the round or entry is another).</summary>
    private void OnLeaseRefresh(LeaseRefresh r, IActorRef cache)
    {
        bool current = _exists && r.ConntrackId == _entry.Id && _leaseHolders is { } h && r.Epoch == h.Epoch && ConnTracker.IsSteady(_entry.State);
        if (current)
        {
            MergeRefreshes(r.ConntrackId, r.Epoch, r.State);
            Leases.Granted(cache, _ctx.Clock.NowMs);
        }
        cache.Tell(new LeaseRenewed { Original = r.Original, ConntrackId = r.ConntrackId, Epoch = r.Epoch, Ended = !current, ExpiresMs = current ? _entry.State.ExpiresMs : 0 });
    }

    /// <summary>Folds a holder's copy into the entry (same entry and round only), and tells the pool if its expiry moved on.</summary>
    private void MergeRefreshes(ulong conntrackId, ulong epoch, Messages.ConnState? copy)
    {
        if (copy is null || !_exists || conntrackId != _entry.Id || _leaseHolders is not { } h || epoch != h.Epoch) return;
        ConnTracker.MergeRefresh(ref _entry.State, copy.ToCore());
        if (_entry.State.ExpiresMs > _poolKnows.ExpiresMs + ReportAfterMs) TellPool();
    }

    private sealed class RevokeLapsed : INoSerializationVerificationNeeded
    {
        public static readonly RevokeLapsed Instance = new();
    }
}
