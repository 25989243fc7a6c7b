using System.Diagnostics;
using System.Threading.Channels;
using ActorNat.Core.Net;
using ActorNat.Dataplane.Cluster;
using ActorNat.Dataplane.Flows;
using ActorNat.Dataplane.Nfq;
using ActorNat.Dataplane.Packets;
using ActorNat.Node;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Dataplane;

/// <param name="EarlyRewrite">
/// Rewrite an offloaded flow's original-direction packets already at PREROUTING (one queue pass instead of two; needs
/// net.ipv4.conf.all.accept_local=1 in the router, which <see cref="Rules"/> sets, since the new source is the router's own).
/// </param>
public sealed record EngineOptions(uint Mark = 0x1, int MaxBatch = 512, TimeSpan? RefreshInterval = null, bool EarlyRewrite = true)
{
    public TimeSpan Refresh => RefreshInterval ?? TimeSpan.FromSeconds(1);
}

/// <summary>
/// Decides each queued packet: an offloaded flow's data packet is rewritten from the <see cref="FlowCache"/> on the
/// queue's thread; a flow's first packet, every TCP SYN/FIN/RST, and any packet of a flow not yet established in the
/// cluster go to the cluster in <c>TranslateStream</c> batches, and are rewritten (or dropped, counted by reason) with
/// its verdict. Replies are accepted at PREROUTING with <see cref="EngineOptions.Mark"/> set, so the FORWARD queue
/// rule skips them.
/// </summary>
public sealed class PacketEngine
{
    private const byte StateFlags = 0x01 | 0x02 | 0x04; // FIN SYN RST: may change the entry's state
    private readonly FlowCache _cache = new();
    private readonly ClusterLink _link;
    private readonly EngineOptions _options;
    private readonly Channel<Pending> _toCluster = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _keyPrefix = $"dp{Environment.ProcessId}-{DateTime.UtcNow.Ticks:x}-";
    private long _keys;

    public PacketEngine(ClusterLink link, EngineOptions options)
    {
        _link = link;
        _options = options;
    }

    public Counters Counters { get; } = new();
    public FlowCache Cache => _cache;
    private long NowMs => _clock.ElapsedMilliseconds;

    private sealed class Pending
    {
        public NfQueue? Queue;
        public uint Id, Mark;
        public bool PreRouting;
        public bool Output;
        public byte[] Data = [];
        public PacketView View;
        public Flow? Flow;        // the cached flow this packet belongs to (its Pending count), or the refreshed one
        public bool Refresh;
        public required Wire.PacketMeta Meta;
    }

    /// <summary>
    /// The queue thread's entry point for one packet. Every packet is decided once, at PREROUTING (before routing, so a
    /// reply's rewritten destination is what the kernel routes): a reply is rewritten there and marked; an original-
    /// direction packet is accepted unchanged, routed, and its source rewritten at FORWARD from the flow the decision
    /// left in the cache (after routing, where netfilter's SNAT sits). A FORWARD packet of an unknown flow (its entry
    /// was invalidated meanwhile) is decided by the cluster there.
    /// </summary>
    public void OnPacket(NfQueue queue, uint id, int hook, uint mark, Span<byte> packet)
    {
        // A packet of the router itself (OUTPUT) is decided as an arriving one is, and rewritten at once in either
        // direction: it crosses no FORWARD hook.
        bool output = hook == NfQueue.HookLocalOut;
        bool pre = hook == NfQueue.HookPreRouting || output;
        var status = PacketView.Parse(packet, out var v);
        if (status != ParseStatus.Ok)
        {
            if (status == ParseStatus.NotIpv4 || (status == ParseStatus.UnsupportedProtocol && pre)) queue.Accept(id, packet, pre ? mark | _options.Mark : mark);
            else Drop(queue, id, status switch { ParseStatus.Fragment => "fragment", ParseStatus.UnsupportedProtocol => "unsupported-protocol", _ => "malformed" });
            return;
        }
        if (v.IsIcmpError)
        {
            switch (TranslateIcmpError(packet, v, pre))
            {
                case ErrorOutcome.Translated:
                    Counters.CountIcmpError();
                    queue.Accept(id, packet, pre ? mark | _options.Mark : mark);
                    return;
                case ErrorOutcome.AfterRouting:
                    queue.Accept(id, packet, mark); // about an original-direction flow: translated at FORWARD
                    return;
            }
        }
        Flow? flow;
        FiveTuple target = default;
        bool local = false, reply = false;
        lock (_cache.Sync)
        {
            flow = v.IsIcmpError ? null : _cache.Find(v.Tuple);
            if (flow is not null)
            {
                reply = v.Tuple == flow.Reply;
                if (!pre)
                {
                    // FORWARD: decided at PREROUTING already; only the source rewrite of the original direction is left.
                    target = reply ? v.Tuple : flow.Target(v.Tuple);
                    local = true;
                }
                else
                {
                    bool stateChange = v.Tuple.Proto == Protocol.Tcp && (v.TcpFlags & StateFlags) != 0;
                    if (flow.Offloaded && flow.Pending == 0 && !stateChange)
                    {
                        target = reply || output || _options.EarlyRewrite ? flow.Target(v.Tuple) : v.Tuple;
                        flow.LastSeenMs = NowMs;
                        flow.Active = true;
                        flow.LastTuple = v.Tuple;
                        flow.LastFlags = v.TcpFlags;
                        flow.LastSeq = v.TcpSeq;
                        local = true;
                        Counters.CountCached();
                    }
                    else
                    {
                        if (stateChange) flow.Offloaded = false;
                        flow.Pending++;
                    }
                }
            }
        }
        if (local)
        {
            if (target != v.Tuple) Rewriter.Rewrite(packet, v, target);
            queue.Accept(id, packet, pre && (reply || _options.EarlyRewrite) ? mark | _options.Mark : mark);
            return;
        }
        var meta = ToMeta(v.Tuple, v.TcpFlags, v.TcpSeq, v.PayloadLength, withKey: true);
        meta.WithEntry = flow is not null; // a known flow: is it established now (then offloaded)?
        _toCluster.Writer.TryWrite(new Pending
        {
            Queue = queue, Id = id, Mark = mark, PreRouting = pre, Output = output, Data = packet.ToArray(), View = v, Flow = flow,
            Meta = meta,
        });
    }

    private void Drop(NfQueue queue, uint id, string reason)
    {
        Counters.CountDrop(reason);
        queue.Drop(id);
    }

    private enum ErrorOutcome { NoFlow, Translated, AfterRouting }

    /// <summary>
    /// An ICMP error about a known flow, rewritten from its mapping (outer address and quoted header), as the kernel does
    /// for RELATED packets: one about the reply direction (to the NAT address) before routing, one from the client
    /// (about a reply it got) after routing.
    /// </summary>
    private ErrorOutcome TranslateIcmpError(Span<byte> packet, in PacketView v, bool preRouting)
    {
        var quoted = v.InnerTuple;
        var about = quoted.Proto == Protocol.Icmp
            ? FiveTuple.Icmp(quoted.Dst, quoted.Src, ReplyType(quoted.IcmpType), quoted.IcmpCode, quoted.IcmpId)
            : new FiveTuple(quoted.Proto, quoted.Dst, quoted.Src, quoted.DPort, quoted.SPort);
        FiveTuple inner;
        IPv4 src = v.Tuple.Src, dst = v.Tuple.Dst;
        lock (_cache.Sync)
        {
            var flow = _cache.Find(about);
            if (flow is null) return ErrorOutcome.NoFlow;
            bool toNat = about == flow.Reply;
            if (toNat != preRouting) return preRouting ? ErrorOutcome.AfterRouting : ErrorOutcome.NoFlow;
            if (toNat) { inner = flow.Original; dst = flow.Original.Src; } // to the NAT address: back to the client
            else { inner = flow.Reply; src = flow.Reply.Dst; }           // from the client: from the NAT address
        }
        Rewriter.RewriteIcmpError(packet, v, src, dst, inner);
        return ErrorOutcome.Translated;
    }

    /// <summary>The type of the answer to an ICMP query (and back), as conntrack pairs them.</summary>
    private static byte ReplyType(byte type) => type switch
    {
        8 => 0, 0 => 8, 13 => 14, 14 => 13, 15 => 16, 16 => 15, 17 => 18, 18 => 17, _ => type,
    };

    private Wire.PacketMeta ToMeta(in FiveTuple t, byte flags, uint seq, int payload, bool withKey)
    {
        var m = new Wire.PacketMeta
        {
            Protocol = PacketMapper.ToApi(t.Proto),
            SrcAddress = t.Src.ToString(),
            DstAddress = t.Dst.ToString(),
            PayloadLength = (uint)Math.Min(payload, ushort.MaxValue),
        };
        if (withKey) m.IdempotencyKey = _keyPrefix + Interlocked.Increment(ref _keys);
        if (t.Proto == Protocol.Icmp)
        {
            m.IcmpType = t.IcmpType;
            m.IcmpCode = t.IcmpCode;
            m.IcmpId = t.IcmpId;
        }
        else
        {
            m.SrcPort = t.SPort;
            m.DstPort = t.DPort;
            if (t.Proto == Protocol.Tcp) { m.TcpFlags = flags; m.TcpSeq = seq; }
        }
        return m;
    }

    /// <summary>Connects to the cluster before the first packet (see <see cref="ClusterLink.WarmUpAsync"/>).</summary>
    public Task WarmUpAsync(CancellationToken ct) => _link.WarmUpAsync(ct);

    /// <summary>Sends queued packets to the cluster in batches and applies the verdicts, until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        _ = RefreshLoop(ct); // ends with ct
        var batch = new List<Pending>(_options.MaxBatch);
        var reader = _toCluster.Reader;
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                batch.Clear();
                while (batch.Count < _options.MaxBatch && reader.TryRead(out var p)) batch.Add(p);
                await SendAsync(batch, ct);
            }
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException) { }
    }

    private async Task SendAsync(List<Pending> batch, CancellationToken ct)
    {
        Wire.VerdictBatch answer;
        try
        {
            answer = await _link.SendAsync(batch.Select(p => p.Meta).ToList(), ct);
        }
        catch (Exception e) when (e is RpcException { StatusCode: StatusCode.InvalidArgument } or TimeoutException)
        {
            string reason = e is TimeoutException ? "no-node" : "rejected";
            Console.Error.WriteLine($"dataplane: batch of {batch.Count} dropped ({reason}): {e.Message}");
            foreach (var p in batch) Fail(p, reason);
            return;
        }
        for (int i = 0; i < batch.Count; i++) Apply(batch[i], answer.Verdicts[i]);
    }

    private void Fail(Pending p, string reason)
    {
        lock (_cache.Sync) if (!p.Refresh && p.Flow is not null) p.Flow.Pending--;
        if (p.Queue is not null) Drop(p.Queue, p.Id, reason);
    }

    private void Apply(Pending p, Wire.Verdict v)
    {
        if (p.Refresh) { ApplyRefresh(p.Flow!, v); return; }
        bool drop = v.Action is Wire.VerdictAction.Drop or Wire.VerdictAction.Unspecified;
        FiveTuple rewritten = default;
        lock (_cache.Sync)
        {
            if (p.Flow is not null) p.Flow.Pending--;
            if (!drop && v.Original is not null && v.Reply is not null && !p.View.IsIcmpError)
            {
                var flow = _cache.Upsert(PacketMapper.FromApi(v.Original), PacketMapper.FromApi(v.Reply), v.ConntrackId, NowMs);
                flow.LastSeenMs = NowMs;
                if (p.Meta.WithEntry) Learn(flow, v);
            }
            if (v.Rewritten is not null) rewritten = PacketMapper.FromApi(v.Rewritten);
        }
        if (drop)
        {
            Drop(p.Queue!, p.Id, string.IsNullOrEmpty(v.DropReason) ? "cluster" : v.DropReason);
            return;
        }
        // Before routing only a reply is rewritten (and marked); the original direction's source is rewritten at FORWARD.
        bool reply = v.Direction == Wire.PacketDirection.Reply;
        if (v.Action == Wire.VerdictAction.Translate && v.Rewritten is not null && !p.View.IsIcmpError && (reply || !p.PreRouting || p.Output))
            Rewriter.Rewrite(p.Data, p.View, rewritten);
        Counters.CountCluster();
        p.Queue!.Accept(p.Id, p.Data, p.PreRouting && reply ? p.Mark | _options.Mark : p.Mark);
    }

    /// <summary>The entry's state from a verdict with_entry: established entries are offloaded, and their timeout is kept.</summary>
    private static void Learn(Flow flow, Wire.Verdict v)
    {
        bool assured = v.Flags.Contains("ASSURED"), unreplied = v.Flags.Contains("UNREPLIED");
        flow.Offloaded = flow.Original.Proto switch
        {
            Protocol.Tcp => assured && v.State == "ESTABLISHED",
            Protocol.Udp => assured,
            _ => !unreplied,
        };
        if (v.TimeoutSeconds > 0) flow.TimeoutMs = (long)v.TimeoutSeconds * 1000;
    }

    private void ApplyRefresh(Flow flow, Wire.Verdict v)
    {
        Counters.CountRefresh();
        lock (_cache.Sync)
        {
            if (v.Action == Wire.VerdictAction.Drop || v.ConntrackId != flow.ConntrackId)
            {
                // The cluster destroyed the entry (expiry, conntrack -D, address removal): the cache forgets the flow;
                // its next packet asks the cluster again.
                _cache.Remove(flow);
                Counters.CountInvalidated();
                return;
            }
            Learn(flow, v);
        }
    }

    /// <summary>Every refresh interval: idle flows past their timeout are forgotten; active offloaded ones refresh the entry's timeout in the cluster.</summary>
    private Task RefreshLoop(CancellationToken ct) => Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(_options.Refresh);
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            List<Flow> active;
            lock (_cache.Sync)
            {
                active = _cache.Sweep(NowMs, out int expired);
                Counters.CountExpired(expired);
            }
            foreach (var f in active)
            {
                var meta = ToMeta(f.LastTuple, f.LastFlags, f.LastSeq, 0, withKey: false);
                meta.WithEntry = true;
                _toCluster.Writer.TryWrite(new Pending { Flow = f, Refresh = true, Meta = meta });
            }
        }
    }, ct).ContinueWith(_ => { }, TaskScheduler.Default);
}
