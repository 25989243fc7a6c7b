using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using ActorNat.Core.Net;
using ActorNat.Node.Metrics;
using Microsoft.Extensions.Options;

namespace ActorNat.Node.Events;

/// <summary>Where NAT events go: <c>off</c>, <c>log</c> (Microsoft.Extensions.Logging, category ActorNat.NatEvents),
/// <c>jsonl:PATH</c> (one JSON object per line, appended), or both, comma-separated (<c>log,jsonl:/var/log/nat.jsonl</c>).</summary>
public sealed record NatEventsMode(bool Log, string? JsonlPath)
{
    public bool Enabled => Log || JsonlPath is not null;

    public static NatEventsMode Parse(string? text)
    {
        bool log = false;
        string? path = null;
        foreach (var raw in (text ?? "off").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (raw == "off") continue;
            if (raw == "log") log = true;
            else if (raw.StartsWith("jsonl:", StringComparison.Ordinal) && raw.Length > "jsonl:".Length) path = raw["jsonl:".Length..];
            else throw new NodeStartupException($"bad NatEvents=\"{text}\": expected off, log, jsonl:PATH, or log,jsonl:PATH");
        }
        return new NatEventsMode(log, path);
    }
}

/// <summary>
/// The NAT event log (RFC 8158 natEvent 4, 5, 12): events are queued (bounded; when full, events are dropped and the
/// loss is reported) and written on a task of their own, so the packet path never waits for a log or a disk.
/// Ports-exhausted events are rate-limited: at most one per NAT IP per second, carrying the count of drops since the last.
/// </summary>
public sealed partial class NatEventLog : BackgroundService, INatEventSink
{
    public const string Category = "ActorNat.NatEvents";
    private const int QueueCapacity = 65536;
    private static readonly long Second = TimeSpan.TicksPerSecond;

    private readonly Channel<NatEvent> _queue;
    private readonly NatEventsMode _mode;
    private readonly string _node;
    private readonly ILogger _log;
    private readonly NatMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<uint, Exhaustion> _exhausted = new();
    private long _lost;

    private sealed class Exhaustion
    {
        public long Pending;
        public long LastEmitTicks = long.MinValue / 2;
        public FiveTuple Last;
    }

    public NatEventLog(IOptions<NodeOptions> options, ILoggerFactory loggers, NatMetrics metrics, TimeProvider? time = null)
    {
        _mode = NatEventsMode.Parse(options.Value.NatEvents);
        _node = options.Value.NodeName;
        _log = loggers.CreateLogger(Category);
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
        _queue = Channel.CreateBounded<NatEvent>(new BoundedChannelOptions(QueueCapacity)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _lost));
    }

    public NatEventsMode Mode => _mode;
    public bool Enabled => _mode.Enabled;

    /// <summary>Events written so far (to every enabled sink); tests wait on this.</summary>
    public long Written => Interlocked.Read(ref _written);
    private long _written;

    /// <summary>Raised on the writer task after an event was written (tests, and anyone who wants a feed).</summary>
    public event Action<NatEvent>? EventWritten;

    public void Publish(in NatEvent e)
    {
        if (!_mode.Enabled) return;
        _queue.Writer.TryWrite(e); // DropWrite: never blocks; a drop is counted by the callback above
    }

    public void PortsExhausted(in FiveTuple original, IPv4 natIp)
    {
        var st = _exhausted.GetOrAdd(natIp.Value, static _ => new Exhaustion());
        Interlocked.Increment(ref st.Pending);
        st.Last = original;
        var now = _time.GetUtcNow().UtcTicks;
        var last = Interlocked.Read(ref st.LastEmitTicks);
        if (now - last >= Second && Interlocked.CompareExchange(ref st.LastEmitTicks, now, last) == last)
            EmitExhausted(natIp.Value, st, now);
    }

    private void EmitExhausted(uint ip, Exhaustion st, long nowTicks)
    {
        var n = Interlocked.Exchange(ref st.Pending, 0);
        if (n == 0) return;
        _metrics.CountEvent(NatEventType.PortsExhausted);
        Publish(new NatEvent(NatEventType.PortsExhausted, new DateTimeOffset(nowTicks, TimeSpan.Zero), 0, st.Last, default, null, new IPv4(ip), n));
    }

    /// <summary>Emits the exhaustion counts held back by the rate limit once their second has passed.</summary>
    private void FlushExhausted()
    {
        var now = _time.GetUtcNow().UtcTicks;
        foreach (var (ip, st) in _exhausted)
        {
            var last = Interlocked.Read(ref st.LastEmitTicks);
            if (Interlocked.Read(ref st.Pending) > 0 && now - last >= Second && Interlocked.CompareExchange(ref st.LastEmitTicks, now, last) == last)
                EmitExhausted(ip, st, now);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_mode.Enabled) return;
        StreamWriter? file = null;
        if (_mode.JsonlPath is { } path)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new System.Text.UTF8Encoding(false));
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        var tick = timer.WaitForNextTickAsync(CancellationToken.None).AsTask();
        long reportedLost = 0;
        try
        {
            var stopped = Task.Delay(Timeout.Infinite, stoppingToken);
            var ready = _queue.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
            while (true)
            {
                var done = await Task.WhenAny(ready, tick, stopped).ConfigureAwait(false);
                if (ready.IsCompleted) ready = _queue.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
                if (done == tick)
                {
                    FlushExhausted();
                    tick = timer.WaitForNextTickAsync(CancellationToken.None).AsTask();
                }
                Drain(file);
                var lost = Interlocked.Read(ref _lost);
                if (lost != reportedLost)
                {
                    LogLost(_log, lost - reportedLost, QueueCapacity);
                    reportedLost = lost;
                }
                if (stoppingToken.IsCancellationRequested) break;
            }
        }
        finally
        {
            // On shutdown: what is already queued is still written.
            FlushExhaustedNow();
            Drain(file);
            if (file is not null) await file.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void FlushExhaustedNow()
    {
        foreach (var (ip, st) in _exhausted) EmitExhausted(ip, st, _time.GetUtcNow().UtcTicks);
    }

    private void Drain(StreamWriter? file)
    {
        int n = 0;
        while (_queue.Reader.TryRead(out var e))
        {
            if (_mode.Log) Write(e);
            if (file is not null) file.WriteLine(ToJson(e, _node));
            Interlocked.Increment(ref _written);
            EventWritten?.Invoke(e);
            n++;
        }
        if (n > 0) file?.Flush();
    }

    private static ushort NatPort(in NatEvent e) => e.Reply.Proto == Protocol.Icmp ? e.Reply.SPort : e.Reply.DPort;

    private void Write(in NatEvent e)
    {
        var o = e.Original;
        switch (e.Type)
        {
            case NatEventType.SessionCreate:
                LogCreate(_log, (int)e.Type, _node, e.ConntrackId, o.Proto.Name(), o.Src.ToString(), o.SPort, o.Dst.ToString(), o.DPort,
                    e.Reply.Dst.ToString(), NatPort(e), e.Time);
                break;
            case NatEventType.SessionDelete:
                LogDelete(_log, (int)e.Type, _node, e.ConntrackId, o.Proto.Name(), o.Src.ToString(), o.SPort, o.Dst.ToString(), o.DPort,
                    e.Reply.Dst.ToString(), NatPort(e), e.Reason ?? "", e.Time);
                break;
            default:
                LogExhausted(_log, (int)e.Type, _node, e.NatIp.Value == 0 ? "unknown" : e.NatIp.ToString(), o.Proto.Name(), e.Count,
                    o.Src.ToString(), o.SPort, o.Dst.ToString(), o.DPort, e.Time);
                break;
        }
    }

    /// <summary>One JSON line with the RFC 8158 / IPFIX information element names.</summary>
    public static string ToJson(in NatEvent e, string node)
    {
        using var ms = new MemoryStream(256);
        using (var w = new Utf8JsonWriter(ms))
        {
            var o = e.Original;
            w.WriteStartObject();
            w.WriteString("time", e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            w.WriteString("node", node);
            w.WriteNumber("natEvent", (int)e.Type);
            w.WriteString("event", e.Type switch
            {
                NatEventType.SessionCreate => "session_create",
                NatEventType.SessionDelete => "session_delete",
                _ => "ports_exhausted",
            });
            if (e.ConntrackId != 0) w.WriteNumber("conntrackId", e.ConntrackId);
            w.WriteNumber("protocolIdentifier", (int)o.Proto);
            w.WriteString("sourceIPv4Address", o.Src.ToString());
            w.WriteString("destinationIPv4Address", o.Dst.ToString());
            if (o.Proto == Protocol.Icmp) w.WriteNumber("icmpIdentifier", o.SPort);
            else
            {
                w.WriteNumber("sourceTransportPort", o.SPort);
                w.WriteNumber("destinationTransportPort", o.DPort);
            }
            if (e.Type != NatEventType.PortsExhausted)
            {
                w.WriteString("postNATSourceIPv4Address", e.Reply.Dst.ToString());
                w.WriteNumber(o.Proto == Protocol.Icmp ? "postNATIcmpIdentifier" : "postNAPTSourceTransportPort", NatPort(e));
            }
            else
            {
                w.WriteString("postNATSourceIPv4Address", e.NatIp.Value == 0 ? null : e.NatIp.ToString());
                w.WriteNumber("count", e.Count);
            }
            if (e.Reason is not null) w.WriteString("reason", e.Reason);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    [LoggerMessage(EventId = 4, EventName = "SessionCreate", Level = LogLevel.Information,
        Message = "natEvent={NatEvent} session create node={Node} id={ConntrackId} {Protocol} {Src}:{SrcPort} -> {Dst}:{DstPort} as {NatIp}:{NatPort} at {Time:o}")]
    private static partial void LogCreate(ILogger log, int natEvent, string node, ulong conntrackId, string protocol, string src, ushort srcPort,
        string dst, ushort dstPort, string natIp, ushort natPort, DateTimeOffset time);

    [LoggerMessage(EventId = 5, EventName = "SessionDelete", Level = LogLevel.Information,
        Message = "natEvent={NatEvent} session delete node={Node} id={ConntrackId} {Protocol} {Src}:{SrcPort} -> {Dst}:{DstPort} as {NatIp}:{NatPort} reason={Reason} at {Time:o}")]
    private static partial void LogDelete(ILogger log, int natEvent, string node, ulong conntrackId, string protocol, string src, ushort srcPort,
        string dst, ushort dstPort, string natIp, ushort natPort, string reason, DateTimeOffset time);

    [LoggerMessage(EventId = 12, EventName = "PortsExhausted", Level = LogLevel.Warning,
        Message = "natEvent={NatEvent} ports exhausted node={Node} natIp={NatIp} {Protocol} drops={Count} last {Src}:{SrcPort} -> {Dst}:{DstPort} at {Time:o}")]
    private static partial void LogExhausted(ILogger log, int natEvent, string node, string natIp, string protocol, long count,
        string src, ushort srcPort, string dst, ushort dstPort, DateTimeOffset time);

    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "NAT event queue full: {Lost} events lost (queue holds {Capacity})")]
    private static partial void LogLost(ILogger log, long lost, int capacity);
}
