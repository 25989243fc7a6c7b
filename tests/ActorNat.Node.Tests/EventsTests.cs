using System.Collections.Concurrent;
using System.Text.Json;
using ActorNat.Node.Events;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>The NAT event log: session create/delete and ports exhausted, as log records and JSON lines.</summary>
public class EventsTests
{
    /// <summary>Completes when the event log has written <paramref name="count"/> events matching <paramref name="match"/>.</summary>
    private static Task WaitForEvents(NatEventLog log, ConcurrentQueue<NatEvent> seen, Func<NatEvent, bool> match, int count)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check() { if (seen.Count(match) >= count) tcs.TrySetResult(); }
        log.EventWritten += _ => Check();
        Check();
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Creates_deletes_and_exhaustion_are_logged_and_written_as_json_lines()
    {
        var path = Path.Combine(Path.GetTempPath(), $"actornat-events-{Guid.NewGuid():N}.jsonl");
        var records = new ConcurrentQueue<(LogLevel Level, int EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> State)>();
        var o = new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:AdminToken"] = LiveNode.Token,
            ["ActorNat:RandomSeed"] = "42",
            ["ActorNat:NodeName"] = "nat-a",
            ["ActorNat:NatEvents"] = $"log,jsonl:{path}",
        };
        var node = NatNode.Create([], o, configureLogging: l =>
        {
            l.ClearProviders();
            l.AddProvider(new CaptureProvider(records));
        });
        var seen = new ConcurrentQueue<NatEvent>();
        try
        {
            await node.StartAsync();
            node.Events.EventWritten += seen.Enqueue;
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(node.GrpcUrl);
            var nat = new Wire.NatService.NatServiceClient(channel);
            var admin = new Wire.AdminService.AdminServiceClient(channel);
            var auth = new Grpc.Core.Metadata { { "authorization", "Bearer " + LiveNode.Token } };
            await admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { LiveNode.ArticleConfig } }, auth);

            // 3 UDP sessions; 20 TCP SYNs to one server through 15 ports: 15 sessions, 5 drops for want of a port.
            for (uint i = 0; i < 3; i++)
                await nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 5000 + i, "192.0.2.53", 53) });
            for (uint i = 0; i < 20; i++)
                await nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Tcp("172.18.0.3", 40000 + i, "192.0.2.80", 80, LiveNode.Syn, 1) });
            Assert.Equal(3u, (await admin.ConntrackDeleteAsync(new Wire.ConntrackFilter { Protocol = Wire.IpProtocol.Udp }, auth)).Count);

            await WaitForEvents(node.Events, seen, e => e.Type == NatEventType.SessionCreate, 18);
            await WaitForEvents(node.Events, seen, e => e.Type == NatEventType.SessionDelete, 3);
            // Exhaustion is rate-limited (one event per NAT IP per second), but every drop is counted in some event.
            var exhausted = WaitForEvents(node.Events, seen, _ => seen.Where(x => x.Type == NatEventType.PortsExhausted).Sum(x => x.Count) >= 5, 1);
            await exhausted;
            await node.StopAsync(); // flushes the file
        }
        finally
        {
            await node.DisposeAsync();
        }

        var ex = seen.Where(e => e.Type == NatEventType.PortsExhausted).ToList();
        Assert.Equal(5, ex.Sum(e => e.Count));
        Assert.InRange(ex.Count, 1, 2); // 5 drops within well under a second or two: not 5 events
        Assert.All(ex, e => Assert.Equal("10.0.2.15", e.NatIp.ToString()));

        var lines = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        File.Delete(path);
        Assert.Equal(18 + 3 + ex.Count, lines.Count);
        Assert.All(lines, l => Assert.Equal("nat-a", l.GetProperty("node").GetString()));
        Assert.All(lines, l => Assert.True(DateTimeOffset.TryParse(l.GetProperty("time").GetString(), out _)));
        var create = lines.First(l => l.GetProperty("natEvent").GetInt32() == 4 && l.GetProperty("protocolIdentifier").GetInt32() == 17);
        Assert.Equal("session_create", create.GetProperty("event").GetString());
        Assert.Equal("172.18.0.2", create.GetProperty("sourceIPv4Address").GetString());
        Assert.Equal(5000, create.GetProperty("sourceTransportPort").GetInt32());
        Assert.Equal("192.0.2.53", create.GetProperty("destinationIPv4Address").GetString());
        Assert.Equal("10.0.2.15", create.GetProperty("postNATSourceIPv4Address").GetString());
        Assert.Equal(5000, create.GetProperty("postNAPTSourceTransportPort").GetInt32());
        var deletes = lines.Where(l => l.GetProperty("natEvent").GetInt32() == 5).ToList();
        Assert.Equal(3, deletes.Count);
        Assert.All(deletes, d => Assert.Equal("deleted", d.GetProperty("reason").GetString()));
        var tcpPorts = lines.Where(l => l.GetProperty("natEvent").GetInt32() == 4 && l.GetProperty("protocolIdentifier").GetInt32() == 6)
            .Select(l => l.GetProperty("postNAPTSourceTransportPort").GetInt32()).Order().ToList();
        Assert.Equal(Enumerable.Range(55666, 15), tcpPorts);
        Assert.Equal(5, lines.Where(l => l.GetProperty("natEvent").GetInt32() == 12).Sum(l => l.GetProperty("count").GetInt64()));

        // The same events as structured log records (category ActorNat.NatEvents, event ids = natEvent).
        var logged = records.ToList();
        Assert.Equal(18, logged.Count(r => r.EventId == 4));
        Assert.Equal(3, logged.Count(r => r.EventId == 5));
        Assert.Equal(ex.Count, logged.Count(r => r.EventId == 12 && r.Level == LogLevel.Warning));
        var rec = logged.First(r => r.EventId == 5);
        var fields = rec.State.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("nat-a", fields["Node"]);
        Assert.Equal("udp", fields["Protocol"]);
        Assert.Equal("deleted", fields["Reason"]);
        Assert.Equal("10.0.2.15", fields["NatIp"]);
    }

    [Fact]
    public async Task Off_writes_nothing_but_still_counts()
    {
        await using var n = await LiveNode.StartArticleAsync();
        Assert.False(n.Node.Events.Enabled);
        await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 5000, "192.0.2.53", 53) });
        Assert.Equal(0, n.Node.Events.Written);
        var scrape = await MetricsTests.ScrapeAsync(n.Node.MetricsUrl!);
        Assert.Equal(1, scrape["actornat_nat_events_total{event=\"session_create\",node=\"node1\"}"]);
    }

    [Fact]
    public void Modes_parse()
    {
        Assert.Equal(new NatEventsMode(false, null), NatEventsMode.Parse("off"));
        Assert.Equal(new NatEventsMode(true, null), NatEventsMode.Parse("log"));
        Assert.Equal(new NatEventsMode(false, "/x/y.jsonl"), NatEventsMode.Parse("jsonl:/x/y.jsonl"));
        Assert.Equal(new NatEventsMode(true, "a.jsonl"), NatEventsMode.Parse("log,jsonl:a.jsonl"));
        Assert.Throws<NodeStartupException>(() => NatEventsMode.Parse("jsonl:"));
    }

    private sealed class CaptureProvider(ConcurrentQueue<(LogLevel, int, string, IReadOnlyList<KeyValuePair<string, object?>>)> sink) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Capture(categoryName == NatEventLog.Category ? sink : null);
        public void Dispose() { }

        private sealed class Capture(ConcurrentQueue<(LogLevel, int, string, IReadOnlyList<KeyValuePair<string, object?>>)>? sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => sink is not null;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                sink?.Enqueue((logLevel, eventId.Id, formatter(state, exception), state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
        }
    }
}
