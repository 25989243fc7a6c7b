using System.Diagnostics;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using HdrHistogram;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Bench;

public enum BenchMode { NewFlows, Established, Mixed }

public sealed record BenchSettings
{
    public BenchMode Mode { get; init; } = BenchMode.NewFlows;
    public bool Unary { get; init; }
    public int Batch { get; init; } = 256;
    public int Concurrency { get; init; } = 8;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Live flows of the established (and mixed) modes, opened before the clock starts.</summary>
    public int Flows { get; init; } = 1024;
    /// <summary>Check one verdict in this many.</summary>
    public int CheckEvery { get; init; } = 16;
    /// <summary>In mixed mode, the share of packets that open new flows.</summary>
    public double NewShare { get; init; } = 0.5;
    /// <summary>The nodes' process ids when they run on this machine: their summed CPU time in the measured interval is reported.</summary>
    public IReadOnlyList<int> NodePids { get; init; } = [];
    /// <summary>The measured packets carry binary addresses (PacketMeta.src_ip/dst_ip), and so do their verdicts.</summary>
    public bool BinaryAddresses { get; init; }
}

/// <summary>One interval of a run: its end (seconds from the start), verdicts/s and failed calls/s in it, and whether it was measured.</summary>
public sealed record BenchSample(double T, double PerSecond, double FailedPerSecond, bool Measured);

/// <summary>The totals of one measured run (warm-up excluded).</summary>
public sealed record BenchResult(
    BenchSettings Settings, double DurationSeconds, long Requests, long Rpcs, long Translated, long NoNat, long Dropped,
    IReadOnlyDictionary<string, long> DroppedByReason, long Failed, long Checked, long Violations, IReadOnlyList<string> ViolationExamples,
    IReadOnlyList<string> Errors, HistogramBase Latency)
{
    /// <summary>CPU seconds of the node (with --node-pid) and of this client in the measured interval.</summary>
    public double? NodeCpuSeconds { get; init; }
    public double ClientCpuSeconds { get; init; }

    /// <summary>Verdicts/s and failed calls/s about once a second, warm-up included (for `--report`).</summary>
    public IReadOnlyList<BenchSample> Timeline { get; init; } = [];

    private double? PerVerdictMicros(double? cpu) => cpu is { } s && Requests > Failed ? Math.Round(s * 1e6 / (Requests - Failed), 2) : null;

    public double PerSecond => DurationSeconds > 0 ? (Requests - Failed) / DurationSeconds : 0;

    private double Ms(double percentile) => Latency.TotalCount == 0 ? 0 : Latency.GetValueAtPercentile(percentile) / 1000.0;

    public JsonObject ToJson() => new()
    {
        ["mode"] = Settings.Mode switch { BenchMode.NewFlows => "new-flows", BenchMode.Established => "established", _ => "mixed" },
        ["transport"] = Settings.Unary ? "unary" : "stream",
        ["batch"] = Settings.Unary ? 1 : Settings.Batch,
        ["concurrency"] = Settings.Concurrency,
        ["duration_s"] = Math.Round(DurationSeconds, 3),
        ["warmup_s"] = Settings.Warmup.TotalSeconds,
        ["requests"] = Requests,
        ["rpcs"] = Rpcs,
        ["translated"] = Translated,
        ["no_nat"] = NoNat,
        ["dropped"] = Dropped,
        ["dropped_by_reason"] = new JsonObject(DroppedByReason.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        ["failed"] = Failed,
        ["per_second"] = Math.Round(PerSecond, 1),
        ["latency_ms"] = new JsonObject
        {
            ["unit"] = Settings.Unary ? "request" : "batch",
            ["p50"] = Ms(50), ["p90"] = Ms(90), ["p99"] = Ms(99), ["p999"] = Ms(99.9),
            ["max"] = Latency.TotalCount == 0 ? 0 : Latency.GetMaxValue() / 1000.0,
        },
        ["checked"] = Checked,
        ["violations"] = Violations,
        ["violation_examples"] = new JsonArray(ViolationExamples.Select(s => (JsonNode?)s).ToArray()),
        ["errors"] = new JsonArray(Errors.Select(s => (JsonNode?)s).ToArray()),
        ["node_cpu_s"] = NodeCpuSeconds is { } n ? Math.Round(n, 2) : null,
        ["node_cpu_us_per_verdict"] = PerVerdictMicros(NodeCpuSeconds),
        ["client_cpu_s"] = Math.Round(ClientCpuSeconds, 2),
        ["client_cpu_us_per_verdict"] = PerVerdictMicros(ClientCpuSeconds),
    };
}

/// <summary>
/// Drives a node's NatService with <see cref="BenchSettings.Concurrency"/> workers (each a unary call loop or one
/// TranslateStream in lock-step batches) for warm-up plus duration, counting verdicts by action and drop reason,
/// recording per-call latency in an HdrHistogram (µs), and checking a sample of the verdicts.
/// </summary>
public sealed class BenchRunner(Wire.NatService.NatServiceClient nat, BenchSettings settings, VerdictChecker checker, Metadata? headers = null)
{
    private const long HighestMicros = 120_000_000;

    private sealed class Worker
    {
        public readonly LongHistogram Latency = new(HighestMicros, 3);
        public long Requests, Rpcs, Translated, NoNat, Dropped, Failed;
        public readonly Dictionary<string, long> Reasons = [];
        public void Reset()
        {
            Latency.Reset();
            Requests = Rpcs = Translated = NoNat = Dropped = Failed = 0;
            Reasons.Clear();
        }
    }

    private readonly record struct Live(FlowSpace.Flow Flow, string NatIp, uint NatPort);

    private long _nextFlow;
    private Live[] _live = [];
    private volatile bool _measuring;
    private volatile bool _closed;
    private readonly List<string> _errors = [];

    /// <summary>
    /// Every node the load is spread over (`--target a,b,c`): worker i sends to node i mod N. The flows come from one
    /// counter, so no two streams share a flow whichever nodes they go to. Empty: everything goes to the first client.
    /// </summary>
    public IReadOnlyList<Wire.NatService.NatServiceClient> Nodes { get; init; } = [];

    private Wire.NatService.NatServiceClient NatFor(int worker) => Nodes.Count > 0 ? Nodes[worker % Nodes.Count] : nat;

    /// <summary>The flow counter starts here (several runs against one node use distinct flows).</summary>
    public long FirstFlow { get => _nextFlow; init => _nextFlow = value; }

    /// <summary>Answered verdicts so far (warm-up included), for the progress line.</summary>
    public long Progress => _workers.Sum(w => Interlocked.Read(ref w.Requests));

    private Worker[] _workers = [];

    /// <summary>
    /// Opens the established mode's flows and makes them ASSURED as the kernel does for UDP streams: the first packet,
    /// the server's answer, and after more than 2 s one more packet. An assured entry is never early-dropped, so the
    /// live flows survive a table that new flows (mixed mode) fill to its maximum.
    /// </summary>
    public async Task OpenFlowsAsync(CancellationToken ct)
    {
        if (settings.Mode == BenchMode.NewFlows) return;
        var flows = new List<FlowSpace.Flow>();
        for (int i = 0; i < settings.Flows; i++) flows.Add(FlowSpace.NewFlow(Interlocked.Increment(ref _nextFlow) - 1));
        var first = await SendAll(flows.Select(f => FlowSpace.Packet(f)).ToList(), ct);
        var live = new List<Live>(settings.Flows);
        for (int i = 0; i < flows.Count; i++)
        {
            checker.CheckNew(flows[i], first[i]);
            if (first[i].Action == Wire.VerdictAction.Translate) live.Add(new Live(flows[i], first[i].Rewritten.SrcAddress, first[i].Rewritten.SrcPort));
        }
        if (live.Count == 0) throw new InvalidOperationException("no flow could be opened for the established mode (every first packet was dropped)");
        await SendAll(live.Select(l => FlowSpace.ReplyPacket(l.Flow, l.NatIp, l.NatPort)).ToList(), ct);
        await Task.Delay(TimeSpan.FromSeconds(2.2), ct);
        await SendAll(live.Select(l => FlowSpace.Packet(l.Flow)).ToList(), ct);
        _live = live.ToArray();
    }

    private async Task<List<Wire.Verdict>> SendAll(List<Wire.PacketMeta> packets, CancellationToken ct)
    {
        var verdicts = new List<Wire.Verdict>(packets.Count);
        using var call = nat.TranslateStream(headers, cancellationToken: ct);
        int chunk = Math.Clamp(settings.Batch, 1, 1024);
        for (int start = 0; start < packets.Count; start += chunk)
        {
            var batch = new Wire.PacketBatch { BatchId = (ulong)start };
            batch.Packets.AddRange(packets.Skip(start).Take(chunk));
            await call.RequestStream.WriteAsync(batch, ct);
            if (!await call.ResponseStream.MoveNext(ct)) throw new InvalidOperationException("the node ended the stream while the bench opened its flows");
            verdicts.AddRange(call.ResponseStream.Current.Verdicts);
        }
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(ct)) { }
        return verdicts;
    }

    public async Task<BenchResult> RunAsync(Action<string>? progress, CancellationToken ct)
    {
        _workers = Enumerable.Range(0, settings.Concurrency).Select(_ => new Worker()).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var total = Stopwatch.StartNew();
        _measuring = settings.Warmup <= TimeSpan.Zero;
        var tasks = _workers.Select((w, i) => Task.Run(() => settings.Unary ? UnaryLoop(w, i, stop.Token) : StreamLoop(w, i, stop.Token))).ToArray();
        var measured = Stopwatch.StartNew();
        double? nodeCpu0 = ProcessCpu.Seconds(settings.NodePids);
        double clientCpu0 = ProcessCpu.Self();
        long lastCount = 0;
        var lastTick = TimeSpan.Zero;
        var timeline = new List<BenchSample>();
        long sampledCount = 0, sampledFailed = 0;
        var sampledAt = TimeSpan.Zero;
        void Sample()
        {
            var at = total.Elapsed;
            if ((at - sampledAt).TotalSeconds <= 0.2) return;
            long n = Progress, failed = _workers.Sum(w => Interlocked.Read(ref w.Failed));
            double dt = (at - sampledAt).TotalSeconds;
            timeline.Add(new BenchSample(Math.Round(at.TotalSeconds, 3), Math.Max(0, n - sampledCount) / dt, Math.Max(0, failed - sampledFailed) / dt, _measuring));
            (sampledCount, sampledFailed, sampledAt) = (n, failed, at);
        }
        var end = settings.Warmup + settings.Duration;
        while (total.Elapsed < end && !ct.IsCancellationRequested && !tasks.All(t => t.IsCompleted))
        {
            var next = TimeSpan.FromSeconds(Math.Floor(total.Elapsed.TotalSeconds) + 1);
            if (!_measuring && settings.Warmup < next) next = settings.Warmup;
            if (next > end) next = end;
            var wait = next - total.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, CancellationToken.None);
            if (!_measuring && total.Elapsed >= settings.Warmup)
            {
                // End of warm-up: the workers' counters and histograms restart (each worker resets its own, see Account).
                Sample(); // the warm-up's last interval; the measured ones count from zero
                (sampledCount, sampledFailed) = (0, 0);
                _measuring = true;
                measured.Restart();
                nodeCpu0 = ProcessCpu.Seconds(settings.NodePids);
                clientCpu0 = ProcessCpu.Self();
            }
            long count = Progress;
            if (count < lastCount) lastCount = 0; // the workers restarted their counters at the end of warm-up
            var now = total.Elapsed;
            Sample();
            if (progress is not null && now - lastTick >= TimeSpan.FromSeconds(0.9))
            {
                double rate = (count - lastCount) / (now - lastTick).TotalSeconds;
                progress($"bench {(_measuring ? "run" : "warm-up")} {now.TotalSeconds,5:0}s  {rate,10:N0} verdicts/s  " +
                         $"drops {_workers.Sum(w => Interlocked.Read(ref w.Dropped))}  failed {_workers.Sum(w => Interlocked.Read(ref w.Failed))}  " +
                         $"violations {checker.Violations}");
                lastCount = count;
                lastTick = now;
            }
        }
        _closed = true; // calls answered from now on are after the measured interval
        var duration = measured.Elapsed.TotalSeconds;
        double? nodeCpu = nodeCpu0 is { } c0 && ProcessCpu.Seconds(settings.NodePids) is { } c1 ? c1 - c0 : null;
        double clientCpu = ProcessCpu.Self() - clientCpu0;
        stop.Cancel();
        try { await Task.WhenAll(tasks); } catch (OperationCanceledException) { }
        var hist = new LongHistogram(HighestMicros, 3);
        var reasons = new Dictionary<string, long>();
        foreach (var w in _workers)
        {
            hist.Add(w.Latency);
            foreach (var (k, v) in w.Reasons) reasons[k] = reasons.GetValueOrDefault(k) + v;
        }
        lock (_errors)
            return new BenchResult(settings, duration, _workers.Sum(w => w.Requests), _workers.Sum(w => w.Rpcs), _workers.Sum(w => w.Translated),
                _workers.Sum(w => w.NoNat), _workers.Sum(w => w.Dropped), reasons, _workers.Sum(w => w.Failed), checker.Checked, checker.Violations,
                checker.Examples, _errors.Distinct().Take(10).ToList(), hist) { NodeCpuSeconds = nodeCpu, ClientCpuSeconds = clientCpu, Timeline = timeline };
    }

    /// <summary>The packets of one call: per slot, whether it opens a new flow, and which live flow it belongs to.</summary>
    private sealed class Slots(int n)
    {
        public readonly FlowSpace.Flow[] Flow = new FlowSpace.Flow[n];
        public readonly int[] LiveIndex = new int[n]; // -1: a new flow
        public readonly bool[] Reply = new bool[n];
    }

    /// <summary>A measured packet as it goes out: with binary addresses when asked.</summary>
    private Wire.PacketMeta OnWire(Wire.PacketMeta p) => settings.BinaryAddresses ? FlowSpace.AsBinary(p) : p;

    private void Fill(Slots s, int count, Random rng, Action<Wire.PacketMeta> add)
    {
        for (int i = 0; i < count; i++)
        {
            bool fresh = settings.Mode switch
            {
                BenchMode.NewFlows => true,
                BenchMode.Established => false,
                _ => rng.NextDouble() < settings.NewShare,
            };
            if (fresh)
            {
                var f = FlowSpace.NewFlow(Interlocked.Increment(ref _nextFlow) - 1);
                s.Flow[i] = f;
                s.LiveIndex[i] = -1;
                s.Reply[i] = false;
                add(OnWire(FlowSpace.Packet(f)));
            }
            else
            {
                int li = rng.Next(_live.Length);
                var l = _live[li];
                s.Flow[i] = l.Flow;
                s.LiveIndex[i] = li;
                s.Reply[i] = rng.Next(2) == 1; // both directions
                add(OnWire(s.Reply[i] ? FlowSpace.ReplyPacket(l.Flow, l.NatIp, l.NatPort) : FlowSpace.Packet(l.Flow)));
            }
        }
    }

    private void ResetOnMeasure(Worker w, ref bool measuringSeen)
    {
        if (!measuringSeen && _measuring)
        {
            measuringSeen = true;
            lock (w) w.Reset();
        }
    }

    private void Account(Worker w, Slots s, int count, Func<int, Wire.Verdict> verdict, long startTicks, ref long sampleCounter)
    {
        long micros = (Stopwatch.GetTimestamp() - startTicks) * 1_000_000 / Stopwatch.Frequency;
        if (_closed) return;
        lock (w)
        {
            w.Latency.RecordValue(Math.Min(micros, HighestMicros));
            w.Rpcs++;
            for (int i = 0; i < count; i++)
            {
                var v = verdict(i);
                switch (v.Action)
                {
                    case Wire.VerdictAction.Translate: w.Translated++; break;
                    case Wire.VerdictAction.NoNat: w.NoNat++; break;
                    default:
                        w.Dropped++;
                        var reason = v.DropReason.Length == 0 ? "unspecified" : v.DropReason;
                        w.Reasons[reason] = w.Reasons.GetValueOrDefault(reason) + 1;
                        break;
                }
                if (++sampleCounter % settings.CheckEvery == 0)
                {
                    if (settings.BinaryAddresses) v = FlowSpace.AsText(v);
                    if (s.LiveIndex[i] < 0) checker.CheckNew(s.Flow[i], v);
                    else
                    {
                        var l = _live[s.LiveIndex[i]];
                        checker.CheckEstablished(l.Flow, l.NatIp, l.NatPort, s.Reply[i], v);
                    }
                }
            }
            Interlocked.Add(ref w.Requests, count);
        }
    }

    private void Fail(Worker w, int count, Exception e)
    {
        lock (w)
        {
            w.Failed += count;
            Interlocked.Add(ref w.Requests, count);
        }
        lock (_errors) _errors.Add(e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message);
    }

    private async Task UnaryLoop(Worker w, int index, CancellationToken ct)
    {
        var rng = new Random(index * 7919 + 1);
        var slots = new Slots(1);
        bool seen = false;
        long sample = index;
        var request = new Wire.TranslateRequest();
        var nat = NatFor(index);
        while (!ct.IsCancellationRequested)
        {
            ResetOnMeasure(w, ref seen);
            Fill(slots, 1, rng, p => request.Packet = p);
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                var v = await nat.TranslateAsync(request, headers, cancellationToken: ct);
                Account(w, slots, 1, _ => v, t0, ref sample);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested) { break; }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) when (e is RpcException or HttpRequestException or IOException)
            {
                Fail(w, 1, e);
                await Task.Delay(10, CancellationToken.None);
            }
        }
    }

    private async Task StreamLoop(Worker w, int index, CancellationToken ct)
    {
        var rng = new Random(index * 7919 + 1);
        var slots = new Slots(settings.Batch);
        bool seen = false;
        long sample = index;
        ulong id = 0;
        var nat = NatFor(index);
        while (!ct.IsCancellationRequested)
        {
            // One stream per worker; a failed stream is counted (its unanswered batch) and opened again.
            using var call = nat.TranslateStream(headers, cancellationToken: CancellationToken.None);
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    ResetOnMeasure(w, ref seen);
                    var batch = new Wire.PacketBatch { BatchId = ++id };
                    Fill(slots, settings.Batch, rng, batch.Packets.Add);
                    long t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await call.RequestStream.WriteAsync(batch, CancellationToken.None);
                        if (!await call.ResponseStream.MoveNext(CancellationToken.None))
                            throw new RpcException(new Status(StatusCode.Unavailable, "the node ended the stream"));
                        var answer = call.ResponseStream.Current;
                        if (answer.BatchId != batch.BatchId || answer.Verdicts.Count != batch.Packets.Count)
                            throw new InvalidOperationException($"batch {batch.BatchId} answered as {answer.BatchId} with {answer.Verdicts.Count} verdicts");
                        Account(w, slots, batch.Packets.Count, i => answer.Verdicts[i], t0, ref sample);
                    }
                    catch (Exception e) when (e is RpcException or HttpRequestException or IOException or InvalidOperationException)
                    {
                        Fail(w, batch.Packets.Count, e);
                        await Task.Delay(10, CancellationToken.None);
                        break;
                    }
                }
                if (ct.IsCancellationRequested)
                {
                    try { await call.RequestStream.CompleteAsync(); while (await call.ResponseStream.MoveNext(CancellationToken.None)) { } }
                    catch (RpcException) { }
                }
            }
            catch (RpcException) when (ct.IsCancellationRequested) { }
        }
    }

    /// <summary>A channel for load: several HTTP/2 connections when concurrency asks for them.</summary>
    public static GrpcChannel LoadChannel(string target) => GrpcChannel.ForAddress(target, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
        },
        MaxReceiveMessageSize = 64 * 1024 * 1024,
    });
}
