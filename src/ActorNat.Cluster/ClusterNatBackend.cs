using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using ActorNat.Cluster.Fencing;
using ActorNat.Cluster.Ingress;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Routing;
using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Net;
using ActorNat.Core.Routing;
using CorePacket = ActorNat.Core.Engine.Packet;
using CoreVerdict = ActorNat.Core.Engine.Verdict;

namespace ActorNat.Cluster;

/// <summary>
/// The gRPC host's view of the cluster. A packet goes in one hop to its conntrack entity, or, when it may be an
/// answer (its destination is a NAT address), to the pool that owns that reply tuple, which passes it to the entry.
/// Administration goes to the configuration entity, the pools (listings) and every node's router (counters).
/// </summary>
public sealed class ClusterNatBackend(ActorSystem system, NatNodeContext ctx) : INatBackend, IClusterView, IAtomicConfig
{
    private TimeSpan Timeout => ctx.Options.AskTimeout;

    public NatNodeContext Context => ctx;

    public async ValueTask<CoreVerdict> TranslateAsync(CorePacket packet, CancellationToken ct = default) =>
        (await TranslateBatchAsync([packet], ct).ConfigureAwait(false))[0];

    /// <summary>
    /// Verdicts in packet order. Packets that share a server endpoint (both directions of one connection do) are
    /// sent one after another; the others in parallel. The whole batch has one reply target (<see cref="BatchCall"/>),
    /// which asks again for a verdict that is late: a region may drop a message while its shard moves (hand-off,
    /// fail-over), and asking again is safe, since a connection's entity answers a repeated first packet from the
    /// entry the first one created.
    /// </summary>
    public async ValueTask<CoreVerdict[]> TranslateBatchAsync(IReadOnlyList<CorePacket> packets, CancellationToken ct = default)
    {
        int n = packets.Count;
        if (n == 0) return [];
        if (!ctx.Fence.MayAct)
        {
            // Answers from here could contradict what the cluster decides meanwhile: the client goes to another node.
            Interlocked.Add(ref ctx.Counters.Fenced, n);
            throw new NodeFencedException(ctx.Fence.Reason ?? "fenced");
        }
        if (packets.Any(Untrackable)) return await WithUntrackable(packets, ct).ConfigureAwait(false);
        // Steady packets of connections leased to this node are answered here (Ingress/FlowCache); the rest go to actors.
        var cache = ctx.FlowCache;
        long askedAt = ctx.Clock.NowMs, generation = cache.Generation;
        bool configured = ctx.Config.Loaded;
        CoreVerdict[]? cached = null;
        BatchCall? call = null;
        bool[] heads = null!, first = null!;
        var snapshot = ctx.Config.Current;
        FirstPackets firsts = null!;
        var last = n > 1 ? new Dictionary<(Protocol, uint, ushort), int>(n) : null;
        for (int i = 0; i < n; i++)
        {
            IcmpErrors.Classify(packets[i], out var t); // an ICMP error goes where the header it quotes belongs
            bool reply = snapshot.MayBeReply(t);
            var server = reply ? (t.Proto, t.Src.Value, t.SPort) : (t.Proto, t.Dst.Value, t.DPort);
            // Not after a packet of the same server endpoint that went to an actor: one connection's packets stay in order.
            if (configured && (last is null || !last.ContainsKey(server)) && cache.TryAnswer(packets[i], askedAt, ctx.Timeouts, out var hit))
            {
                (cached ??= new CoreVerdict[n])[i] = hit;
                continue;
            }
            if (call is null)
            {
                call = new BatchCall(((ExtendedActorSystem)system).Provider, n, ctx.Options.AttemptTimeout, ctx.Failover);
                heads = new bool[n];
                first = new bool[n];
                firsts = new FirstPackets(ctx, snapshot);
            }
            var msg = packets[i].ToMsg();
            if (reply) call.Set(i, ctx.PoolRegion, new PoolPacket { Pool = Keys.PoolOfReply(t, ctx.Options.PoolBuckets), Packet = msg, RequestId = (uint)i });
            else call.Set(i, ctx.ConntrackRegion, new EntityPacket { Original = t.ToMsg(), Direction = 0, Packet = msg, RequestId = (uint)i });
            if (last is not null)
            {
                bool chained = last.TryGetValue(server, out var before);
                if (chained) call.Chain(before, i);
                last[server] = i;
                if (chained) continue;
            }
            // A connection's first packet goes to its pool (grouped), the others to their entity (or the reply's pool).
            if (!reply && firsts.TryAdd(i, packets[i], msg)) first[i] = true;
            else heads[i] = true;
        }
        if (cached is not null) Interlocked.Add(ref ctx.Counters.FlowCacheAnswered, cached.Count(v => v.ConntrackId != 0));
        if (call is null) return cached!;
        if (cached is not null)
            for (int i = 0; i < n; i++)
                if (cached[i].ConntrackId != 0) call.AnsweredHere(i); // a cached verdict always names its entry
        long started = Stopwatch.GetTimestamp();
        await call.RunAsync(heads, ctx.Options.Attempts, ctx.Counters, ct, firsts.Any ? firsts.Groups() : null).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var verdicts = new CoreVerdict[n];
        for (int i = 0; i < n; i++)
        {
            if (cached is not null && cached[i].ConntrackId != 0)
            {
                verdicts[i] = cached[i];
                continue;
            }
            var answer = call.Answers[i];
            if (answer.Lease is { } lease && call.Owners[i] is { } owner) cache.Install(lease, owner, askedAt, generation);
            var v = verdicts[i] = answer.ToCore();
            if (first[i] && !v.Created && firsts.Made(i, v.ConntrackId)) v = verdicts[i] = v with { Created = true };
            if (v.Kind == VerdictKind.Drop || v.Direction != Direction.Original) continue;
            ctx.FlowHints.Add(packets[i].Tuple);
            if (first[i] && v.Created) ctx.AllocationObserved?.Invoke(elapsed);
        }
        return verdicts;
    }

    /// <summary>ICMP that conntrack refuses before any lookup (a type above 18, an error quoting nothing usable).</summary>
    private static bool Untrackable(CorePacket p) => IcmpErrors.Classify(p, out _) == TrackStep.Error;

    /// <summary>A batch holding untrackable ICMP: those are answered here (untracked, counted error), the rest as usual.</summary>
    private async ValueTask<CoreVerdict[]> WithUntrackable(IReadOnlyList<CorePacket> packets, CancellationToken ct)
    {
        var verdicts = new CoreVerdict[packets.Count];
        var rest = new List<int>();
        for (int i = 0; i < packets.Count; i++)
        {
            if (!Untrackable(packets[i])) { rest.Add(i); continue; }
            Interlocked.Increment(ref ctx.Counters.Error);
            verdicts[i] = CoreVerdict.Untracked(packets[i].Tuple);
        }
        if (rest.Count > 0)
        {
            var answers = await TranslateBatchAsync(rest.Select(i => packets[i]).ToList(), ct).ConfigureAwait(false);
            for (int k = 0; k < rest.Count; k++) verdicts[rest[k]] = answers[k];
        }
        return verdicts;
    }

    public Task ApplyConfigAsync(string line, CancellationToken ct = default) => Apply(new ApplyConfig { Line = line }, [line], ct);

    /// <summary>The configuration entity validates the whole batch before persisting it as one event.</summary>
    public Task ApplyConfigAsync(IReadOnlyList<string> lines, CancellationToken ct = default) =>
        Apply(new ApplyConfig { Lines = { lines } }, lines, ct);

    private async Task Apply(ApplyConfig request, IReadOnlyList<string> lines, CancellationToken ct)
    {
        var r = await ctx.ConfigRegion.Ask<ConfigResult>(request, Timeout, ct).ConfigureAwait(false);
        if (!r.Ok)
        {
            Exception refused = r.Token.Length > 0 ? new ParseException(r.Error, r.Token) : new InvalidOperationException(r.Error);
            if (request.Lines.Count > 0) throw new ConfigLineException(r.Index, refused);
            throw refused;
        }
        // Answer once every node decides with the new version: a connection that starts after this call returns is
        // decided with it, whichever node its entity lives on.
        var deadline = Stopwatch.StartNew();
        while (await OldestConfigVersion(ct).ConfigureAwait(false) < r.Version)
        {
            if (deadline.Elapsed > Timeout) throw new TimeoutException($"configuration version {r.Version} not applied on every node within {Timeout}");
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
        foreach (var line in lines) await AfterApplied(line, ct).ConfigureAwait(false);
    }

    /// <summary>Removing an address or downing a link destroys the entries masqueraded through it, in every pool.</summary>
    private async Task AfterApplied(string line, CancellationToken ct)
    {
        var words = Core.Rules.CommandLine.Split(line);
        if (words.Count > 0 && words[0] == "ip")
        {
            switch (IpCommandParser.Parse(words))
            {
                case AddressCommand { Add: false } a:
                    await Broadcast(new DestroyMasqueraded { Interface = a.Device, Ip = a.Address.Value }, ct).ConfigureAwait(false);
                    break;
                case LinkCommand { Up: false } l:
                    await Broadcast(new DestroyMasqueraded { Interface = l.Device }, ct).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>
    /// The masquerade clean-up in every pool. It is idempotent (a second copy finds nothing left to destroy), so each
    /// pool is asked again like a listing: a copy sent while the pool's shard moves may be dropped (akka.net #8501; CI
    /// saw a single ask time out after 10 s here).
    /// </summary>
    private async Task Broadcast(DestroyMasqueraded template, CancellationToken ct)
    {
        var pools = await PoolIds(ct).ConfigureAwait(false);
        await Task.WhenAll(pools.Select(pool =>
        {
            var m = template.Clone();
            m.Pool = pool;
            return AskAgainWhileMoving<DestroyedCount>(ctx.PoolRegion, m, ct);
        })).ConfigureAwait(false);
        await DropLeasesEverywhere(ct).ConfigureAwait(false);
    }

    public Task<ActorNat.Core.Engine.ConfigSnapshot> GetConfigAsync(CancellationToken ct = default) =>
        Task.FromResult(LocalNatBackend.Snapshot(ctx.Config.Current.Engine));

    public async Task<IReadOnlyList<ConntrackRecord>> ListAsync(ConntrackFilter filter, CancellationToken ct = default) =>
        await Collect(filter, delete: false, ct).ConfigureAwait(false);

    public async Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct = default)
    {
        var lists = await CollectLists(filter, delete: true, ct).ConfigureAwait(false);
        await ForgetSources(lists.SelectMany(l => l.Entries), ct).ConfigureAwait(false);
        int n = Records(lists).Count;
        if (n > 0) await DropLeasesEverywhere(ct).ConfigureAwait(false);
        return n;
    }

    /// <summary>
    /// The deleted connections leave the bysource index before the command returns, as in the kernel, where the next
    /// connection from the same client ip:port cannot find a deleted one's mapping.
    /// </summary>
    private async Task ForgetSources(IEnumerable<Entry> deleted, CancellationToken ct)
    {
        const int PerMessage = 2000; // ~25 bytes each: well inside remoting's 128 kB frame
        var open = new Dictionary<string, ForgetSources>();
        var all = new List<ForgetSources>();
        foreach (var e in deleted)
        {
            var o = e.Original.ToCore();
            var bucket = Keys.SourceBucket(o.Proto, o.Src, o.Key, ctx.Options.SourceBuckets);
            if (!open.TryGetValue(bucket, out var m) || m.Connections.Count >= PerMessage)
                all.Add(open[bucket] = m = new ForgetSources { Bucket = bucket });
            m.Connections.Add(new UnregisterSource { Bucket = bucket, Proto = (uint)o.Proto, Client = o.Src.Value, ClientPort = o.Key, ConntrackId = e.Id });
        }
        await Task.WhenAll(all.Select(m => AskAgainWhileMoving<SourcesForgotten>(ctx.SourceRegion, m, ct))).ConfigureAwait(false);
    }

    /// <summary>
    /// After a deletion (conntrack -D/-F, the masquerade clean-up) every node's flow cache drops its copies before the
    /// command returns: the pools evict at once, the entities revoke their leases a moment later, and no packet after
    /// the command may be answered from a copy of an entry it deleted.
    /// </summary>
    private async Task DropLeasesEverywhere(CancellationToken ct)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var members = state.Members.Where(m => m.Status == MemberStatus.Up && !state.Unreachable.Contains(m)).ToList();
        await Task.WhenAll(members.Select(async m =>
        {
            try
            {
                await system.ActorSelection($"{m.Address}/user/{FlowCacheActor.Name}").Ask<LeasesDropped>(new DropLeases(), Timeout, ct).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                // A member that does not answer within the timeout is unreachable or gone: its copies lapse within their term.
            }
        })).ConfigureAwait(false);
    }

    public async Task<long> CountAsync(CancellationToken ct = default) =>
        (await Collect(ConntrackFilter.All, delete: false, ct).ConfigureAwait(false)).Count;

    private async Task<List<ConntrackRecord>> Collect(ConntrackFilter filter, bool delete, CancellationToken ct) =>
        Records(await CollectLists(filter, delete, ct).ConfigureAwait(false));

    private async Task<List<EntryList>> CollectLists(ConntrackFilter filter, bool delete, CancellationToken ct)
    {
        var msgFilter = filter.ToMsg();
        return (await Task.WhenAll((await PoolIds(ct).ConfigureAwait(false)).Select(pool => Pages(pool, msgFilter, delete, ct))).ConfigureAwait(false))
            .SelectMany(l => l).ToList();
    }

    private static List<ConntrackRecord> Records(List<EntryList> lists)
    {
        var records = new List<ConntrackRecord>();
        foreach (var list in lists)
            foreach (var e in list.Entries)
            {
                var entry = e.ToCore();
                if (entry.State.IsExpired(list.NowMs)) continue;
                records.Add(new ConntrackRecord(entry, entry.State.RemainingSeconds(list.NowMs), e.Node));
            }
        return records;
    }

    /// <summary>
    /// Entries per page of a pool's listing: an answer from another node must stay within remoting's frame (128 kB);
    /// an entry is about 100 bytes encoded.
    /// </summary>
    private const int ListPage = 500;

    private async Task<List<EntryList>> Pages(string pool, EntryFilter filter, bool delete, CancellationToken ct)
    {
        var pages = new List<EntryList>();
        ulong after = 0;
        while (true)
        {
            var request = new ListEntries { Pool = pool, Filter = filter, Delete = delete, AfterId = after, Limit = ListPage };
            // A listing is read-only and may be asked again (a pool that is moving after a node's loss answers its new
            // home's copy); a deletion is asked once.
            var page = delete
                ? await ctx.PoolRegion.Ask<EntryList>(request, Timeout, ct).ConfigureAwait(false)
                : await AskAgainWhileMoving<EntryList>(ctx.PoolRegion, request, ct).ConfigureAwait(false);
            pages.Add(page);
            if (!page.More || page.Entries.Count == 0) return pages;
            after = page.Entries[^1].Id;
        }
    }

    /// <summary>
    /// Asks a region, again after <see cref="ListAttempt"/> (sooner while shards move, and at once when a member is
    /// downed or removed), until <see cref="Timeout"/>: a message sent to a lost node's region is gone, and the next
    /// copy waits in the region for the shard's new home.
    /// </summary>
    private async Task<T> AskAgainWhileMoving<T>(IActorRef region, object request, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var lost = ctx.Failover.Changed;
            var attempt = ctx.Failover.RetryAfter(ListAttempt);
            if (attempt > Timeout - deadline.Elapsed) attempt = Timeout - deadline.Elapsed;
            var ask = region.Ask<T>(request, attempt, ct);
            await Task.WhenAny(ask, lost).ConfigureAwait(false);
            if (ask.IsCompletedSuccessfully) return ask.Result;
            if (ask.IsCompleted && ask.Exception?.InnerException is not AskTimeoutException) return await ask.ConfigureAwait(false); // fails as it failed
            if (deadline.Elapsed >= Timeout) return await ask.ConfigureAwait(false); // the last attempt's timeout
        }
    }

    private static readonly TimeSpan ListAttempt = TimeSpan.FromSeconds(2);

    /// <summary>The entries held by the pools on this node (metrics: each node reports its own).</summary>
    public async Task<IReadOnlyList<ConntrackEntry>> LocalEntriesAsync(CancellationToken ct = default)
    {
        var state = await ctx.PoolRegion.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, Timeout, ct).ConfigureAwait(false);
        var lists = await Task.WhenAll(state.Shards.SelectMany(s => s.EntityIds).Select(pool =>
            ctx.PoolRegion.Ask<EntryList>(new ListEntries { Pool = pool, Filter = new EntryFilter() }, Timeout, ct))).ConfigureAwait(false);
        return lists.SelectMany(l => l.Entries.Select(e => e.ToCore()).Where(e => !e.State.IsExpired(l.NowMs))).ToList();
    }

    /// <summary>Shards and active entities of each entity type on this node.</summary>
    public async Task<IReadOnlyList<(string Type, int Shards, int Entities)>> LocalShardsAsync(CancellationToken ct = default)
    {
        var regions = new[] { ("conntrack", ctx.ConntrackRegion), ("pool", ctx.PoolRegion), ("source", ctx.SourceRegion), ("config", ctx.ConfigRegion) };
        var states = await Task.WhenAll(regions.Select(r => r.Item2.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, Timeout, ct))).ConfigureAwait(false);
        return regions.Select((r, i) => (r.Item1, states[i].Shards.Count, states[i].Shards.Sum(s => s.EntityIds.Count))).ToList();
    }

    /// <summary>
    /// The pools that exist: every reachable node's pool region lists its own (pools are remembered, so all are awake),
    /// and the pools seen before stay known: a pool whose node was just lost is on no region until its new home starts
    /// it, and a listing must wait for it rather than leave its entries out.
    /// </summary>
    public async Task<IReadOnlyList<string>> PoolIds(CancellationToken ct = default)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var members = cluster.State.Members.Where(m => m.Status == MemberStatus.Up && !cluster.State.Unreachable.Contains(m)).ToList();
        var states = await Task.WhenAll(members.Select(m => RegionState(cluster, m, ct))).ConfigureAwait(false);
        foreach (var id in states.SelectMany(s => s?.Shards ?? []).SelectMany(s => s.EntityIds)) _knownPools.TryAdd(id, 0);
        return _knownPools.Keys.ToList();
    }

    /// <summary>
    /// A member's pool region's shards, asked again while the member is still an Up, reachable member; null once it
    /// is not (a node that died just now: its pools are known from before, and their new homes will answer for them).
    /// </summary>
    private async Task<CurrentShardRegionState?> RegionState(Akka.Cluster.Cluster cluster, Member m, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var remaining = Timeout - deadline.Elapsed;
            try
            {
                return await system.ActorSelection($"{m.Address}/system/sharding/pool")
                    .Ask<CurrentShardRegionState>(GetShardRegionState.Instance, remaining < ListAttempt ? remaining : ListAttempt, ct).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (deadline.Elapsed < Timeout)
            {
                var now = cluster.State;
                if (now.Unreachable.Any(u => u.Address == m.Address) || !now.Members.Any(x => x.Address == m.Address && x.Status == MemberStatus.Up))
                    return null;
            }
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _knownPools = new();

    public async Task<IReadOnlyList<(string Name, long Value)>> StatsAsync(CancellationToken ct = default) =>
        (await NodeStats(ct).ConfigureAwait(false)).SelectMany(s => s.Counters)
            .Where(c => c.Name is not (RouterActor.ConfigVersionCounter or RouterActor.HeldCounter))
            .GroupBy(c => c.Name).Select(g => (g.Key, g.Sum(c => c.Value))).ToList();

    /// <summary>Every Up member's router: its counters and the configuration version it decides with.</summary>
    public async Task<NodeStats[]> NodeStats(CancellationToken ct = default)
    {
        var members = Akka.Cluster.Cluster.Get(system).State.Members.Where(m => m.Status == MemberStatus.Up).ToList();
        return await Task.WhenAll(members.Select(m =>
            system.ActorSelection($"{m.Address}/user/{RouterActor.Name}").Ask<NodeStats>(new GetNodeStats(), Timeout, ct))).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<MemberView>> MembersAsync(CancellationToken ct = default)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var stats = await NodeStats(ct).ConfigureAwait(false);
        var sharding = await ctx.ConntrackRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(Timeout), Timeout, ct).ConfigureAwait(false);
        // Entries per node from each node's own gauge: a status must not wait for every pool to list its entries.
        var entries = stats.ToDictionary(s => s.Node, s => s.Counters.FirstOrDefault(c => c.Name == RouterActor.HeldCounter)?.Value ?? 0);
        return state.Members.Select(m =>
        {
            var name = m.Address.HostPort();
            var node = stats.FirstOrDefault(s => s.Node == name);
            bool unreachable = state.Unreachable.Contains(m);
            return new MemberView(name, m.Roles.ToList(), unreachable ? "Unreachable" : m.Status.ToString(), m.Address == cluster.SelfAddress,
                state.Leader == m.Address, sharding.Regions.TryGetValue(m.Address, out var r) ? r.Stats.Count : 0,
                entries.GetValueOrDefault(name), node?.GrpcEndpoint ?? "");
        }).ToList();
    }

    private async Task<long> OldestConfigVersion(CancellationToken ct) =>
        (await NodeStats(ct).ConfigureAwait(false)).Min(s => s.Counters.First(c => c.Name == RouterActor.ConfigVersionCounter).Value);
}
