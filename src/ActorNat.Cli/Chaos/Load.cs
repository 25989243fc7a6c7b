using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Chaos;

public enum Outcome { Ack, Failed, Unknown }

/// <summary>One request of the client-side history.</summary>
public sealed record HistoryEntry(long StartMs, long EndMs, int Flow, int Node, string Kind, Outcome Outcome, string Detail);

/// <summary>A flow of the load: its first packet, and what the cluster acknowledged for it.</summary>
public sealed class Flow(int id, Wire.PacketMeta first)
{
    public int Id { get; } = id;
    public Wire.PacketMeta First { get; } = first;
    /// <summary>Set once, by the first acknowledged answer to the first packet.</summary>
    public Wire.Verdict? Ack { get; set; }
    public long AckMs { get; set; }
    public bool EverUnknown { get; set; }
    public bool EverFailed { get; set; }
    public string? Lost { get; set; }

    public static string Key(Wire.Tuple? t) => t is null ? "-" : $"{t.Protocol}/{t.SrcAddress}:{t.SrcPort}>{t.DstAddress}:{t.DstPort}";

    /// <summary>Does a later answer to the first packet show the mapping acknowledged first, unchanged?</summary>
    public string? Differs(Wire.Verdict v)
    {
        var a = Ack!;
        if (v.Action != a.Action) return $"action {v.Action} (acknowledged {a.Action})";
        if (v.ConntrackId != a.ConntrackId) return $"conntrack id {v.ConntrackId} (acknowledged {a.ConntrackId}; created={v.Created})";
        if (Key(v.Rewritten) != Key(a.Rewritten)) return $"rewritten {Key(v.Rewritten)} (acknowledged {Key(a.Rewritten)})";
        if (Key(v.Reply) != Key(a.Reply)) return $"reply {Key(v.Reply)} (acknowledged {Key(a.Reply)})";
        return null;
    }

    /// <summary>Flow i of the seeded space: unique tuple from the article's docker0 network to 192.0.2.0/24; 1 in 8 TCP (SYN).</summary>
    public static Flow Make(int i, int seed)
    {
        bool tcp = i % 8 == 3;
        uint h = (uint)(i * 2654435761u) ^ (uint)seed;
        var p = new Wire.PacketMeta
        {
            Protocol = tcp ? Wire.IpProtocol.Tcp : Wire.IpProtocol.Udp,
            SrcAddress = $"172.18.{1 + (i / 250) % 250}.{1 + i % 250}",
            SrcPort = (uint)(10000 + (h % 50000)),
            DstAddress = $"192.0.2.{1 + (h >> 16) % 200}",
            DstPort = tcp ? 1000 + (h >> 8) % 4000 : 53,
            PayloadLength = tcp ? 0u : 32u,
        };
        if (tcp) { p.TcpFlags = (uint)Wire.TcpFlag.Syn; p.TcpSeq = h; }
        return new Flow(i, p);
    }
}

/// <summary>gRPC clients of the nodes and the history of every request made through them.</summary>
public sealed class Clients : IDisposable
{
    private readonly ConcurrentDictionary<int, (GrpcChannel Channel, Wire.NatService.NatServiceClient Nat, Wire.AdminService.AdminServiceClient Admin)> _nodes = new();
    private readonly Metadata _headers = [];
    public readonly ConcurrentQueue<HistoryEntry> History = new();
    public readonly Stopwatch Clock = Stopwatch.StartNew();
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public Clients(string? token)
    {
        if (!string.IsNullOrEmpty(token)) _headers.Add("authorization", "Bearer " + token);
    }

    public Metadata Headers => _headers;

    public void Set(int node, string url)
    {
        if (_nodes.TryGetValue(node, out var old))
        {
            if (old.Channel.Target == new Uri(url).Authority) return;
        }
        var ch = GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), EnableMultipleHttp2Connections = true } });
        _nodes[node] = (ch, new Wire.NatService.NatServiceClient(ch), new Wire.AdminService.AdminServiceClient(ch));
    }

    public Wire.AdminService.AdminServiceClient Admin(int node) => _nodes[node].Admin;
    public Wire.NatService.NatServiceClient Nat(int node) => _nodes[node].Nat;

    public long NowMs => Clock.ElapsedMilliseconds;

    /// <summary>Sends a flow's first packet to a node; records the request; returns the verdict when acknowledged.</summary>
    public async Task<(Outcome, Wire.Verdict?)> Send(int node, Flow f, string kind, CancellationToken ct, TimeSpan? timeout = null)
    {
        long t0 = NowMs;
        try
        {
            var v = await Nat(node).TranslateAsync(new Wire.TranslateRequest { Packet = f.First }, _headers,
                deadline: DateTime.UtcNow + (timeout ?? RequestTimeout), cancellationToken: ct);
            if (v.Action == Wire.VerdictAction.Drop)
            {
                History.Enqueue(new(t0, NowMs, f.Id, node, kind, Outcome.Failed, "drop " + v.DropReason));
                return (Outcome.Failed, v);
            }
            History.Enqueue(new(t0, NowMs, f.Id, node, kind, Outcome.Ack, $"{Flow.Key(v.Rewritten)} id={v.ConntrackId} created={v.Created}"));
            return (Outcome.Ack, v);
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            // A deadline or a broken connection leaves it open whether the node acted: unknown. A status the node
            // returned itself (it answered, with an error) is a failure.
            var o = e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Cancelled or StatusCode.Internal or StatusCode.Unknown
                ? Outcome.Unknown : Outcome.Failed;
            History.Enqueue(new(t0, NowMs, f.Id, node, kind, o, $"{e.StatusCode}: {e.Status.Detail}"));
            return (o, null);
        }
    }

    public void Dispose()
    {
        foreach (var n in _nodes.Values) n.Channel.Dispose();
    }
}
