using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// nf_conntrack_max on a real cluster node (the `actornat node` process, SQLite journal): a flood of new flows many
/// times the limit holds the count at the limit (early drops of unassured entries, then table-full drops once every
/// entry is assured), counts the drops, logs the kernel's line, and leaves the process's RSS flat from one flood to
/// the next.
/// </summary>
public class TableLimitTests
{
    private const int Max = 2000;
    private const int Flood = 20000;
    /// <summary>One node: the pools that check the count at the same instant (one per thread) may each admit one.</summary>
    private const int Tolerance = 16;
    /// <summary>
    /// RSS may grow this much from the end of the first flood to the end of the second (heap settling; measured 6-20 MB).
    /// What a flow kept before the passivation change, an actor each (~4 KB), is twice that: 80 MB per flood.
    /// </summary>
    private const long RssBoundBytes = 40L << 20;

    private static readonly string[] Config =
    [
        "ip addr add 172.18.0.1/16 dev docker0", "ip addr add 10.0.2.15/24 dev eth0", "ip route add default via 10.0.2.2",
        "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
        "sysctl -w net.netfilter.nf_conntrack_udp_timeout=3600", "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_syn_sent=3600",
        $"sysctl -w net.netfilter.nf_conntrack_max={Max}",
    ];

    private static Wire.PacketMeta Client(int i, Wire.IpProtocol proto, uint flags = 0, uint seq = 0) => new()
    {
        Protocol = proto, SrcAddress = $"172.18.{i / 250 % 250}.{2 + i % 250}", SrcPort = (uint)(10000 + i / 62500),
        DstAddress = $"192.0.2.{1 + i % 200}", DstPort = proto == Wire.IpProtocol.Udp ? 53u : 80u, TcpFlags = flags, TcpSeq = seq,
    };

    private static async Task<List<Wire.Verdict>> Send(Wire.NatService.NatServiceClient nat, IEnumerable<Wire.PacketMeta> packets)
    {
        var verdicts = new List<Wire.Verdict>();
        using var call = nat.TranslateStream(deadline: DateTime.UtcNow.AddMinutes(5));
        ulong id = 0;
        foreach (var chunk in packets.Chunk(500))
        {
            await call.RequestStream.WriteAsync(new Wire.PacketBatch { BatchId = ++id, Packets = { chunk } });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            verdicts.AddRange(call.ResponseStream.Current.Verdicts);
        }
        await call.RequestStream.CompleteAsync();
        return verdicts;
    }

    private static long Rss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    private static async Task<long> Stat(Wire.AdminService.AdminServiceClient admin, string name) =>
        (await admin.ConntrackStatsAsync(new Wire.Empty())).Nodes.SelectMany(n => n.Counters).Where(c => c.Name == name).Sum(c => c.Value);

    private static double Metric(string text, string prefix, string label) => text.Split('\n')
        .Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task A_flood_of_new_flows_holds_nf_conntrack_max_with_rss_flat()
    {
        var dir = Directory.CreateTempSubdirectory("actornat-table-limit-");
        try
        {
            await using var node = await NodeProcess.StartAsync(["--backend", "cluster", "--database", "sqlite:" + Path.Combine(dir.FullName, "actornat.db"),
                "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--remoting", "127.0.0.1:0"]);
            using var channel = GrpcChannel.ForAddress(node.GrpcUrl);
            var admin = new Wire.AdminService.AdminServiceClient(channel);
            var nat = new Wire.NatService.NatServiceClient(channel);
            using var http = new HttpClient { BaseAddress = new Uri(node.MetricsUrl) };
            await TestWait.Until(async () => (await http.GetAsync("/healthz/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "ready");
            await admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { Config } });
            Assert.Equal(["net.netfilter.nf_conntrack_max = 2000"], (await admin.SysctlGetAsync(new Wire.SysctlRequest { Keys = { "net.netfilter.nf_conntrack_max" } })).Lines);

            // 1. Unassured flows (one UDP packet each): every one past the limit early-drops an older one.
            var watch = Stopwatch.StartNew();
            var first = await Send(nat, Enumerable.Range(0, Flood).Select(i => Client(i, Wire.IpProtocol.Udp)));
            // A pool drops only its own unassured entries (the kernel looks only near the new tuple's hash bucket): one
            // that has none left refuses, table-full, as the kernel does when those buckets hold no unassured entry.
            Assert.All(first, v => Assert.True(v.Action == Wire.VerdictAction.Translate || v.DropReason == "table-full", v.ToString()));
            Assert.True(first.Count(v => v.Action != Wire.VerdictAction.Translate) < Flood / 100, "table-full drops are the exception while unassured entries are there");
            var count = (await admin.ConntrackCountAsync(new Wire.Empty())).Count;
            Assert.InRange(count, (ulong)Max - Tolerance, (ulong)Max + Tolerance);
            Assert.InRange(await Stat(admin, "early_drop"), Flood - Max - Tolerance - Flood / 100, Flood);
            Assert.Equal($"net.netfilter.nf_conntrack_count = {count}", (await admin.SysctlGetAsync(new Wire.SysctlRequest { Keys = { "net.netfilter.nf_conntrack_count" } })).Lines.Single());
            long rss1 = Rss(node.Pid);
            var firstTook = watch.Elapsed;

            var second = await Send(nat, Enumerable.Range(Flood, Flood).Select(i => Client(i, Wire.IpProtocol.Udp)));
            Assert.All(second, v => Assert.True(v.Action == Wire.VerdictAction.Translate || v.DropReason == "table-full", v.ToString()));
            Assert.InRange((await admin.ConntrackCountAsync(new Wire.Empty())).Count, (ulong)Max - Tolerance, (ulong)Max + Tolerance);
            long rss2 = Rss(node.Pid);
            Console.WriteLine($"table limit flood: {Flood} flows twice, max {Max}: first flood {firstTook.TotalSeconds:F1} s; RSS {rss1 >> 20} MB after the first, {rss2 >> 20} MB after the second");
            Assert.True(rss2 - rss1 < RssBoundBytes, $"RSS grew {(rss2 - rss1) >> 20} MB from one flood of {Flood} new flows to the next ({rss1 >> 20} → {rss2 >> 20} MB)");

            // 2. A table of assured entries: nothing may be dropped for a newcomer, whose packet is dropped as table-full.
            await admin.ConntrackFlushAsync(new Wire.Empty());
            var syns = await Send(nat, Enumerable.Range(0, Max).Select(i => Client(i, Wire.IpProtocol.Tcp, LiveNode.Syn, 1)));
            Assert.All(syns, v => Assert.Equal(Wire.VerdictAction.Translate, v.Action));
            await Send(nat, syns.Select(v => new Wire.PacketMeta
            {
                Protocol = Wire.IpProtocol.Tcp, SrcAddress = v.Reply.SrcAddress, SrcPort = v.Reply.SrcPort, DstAddress = v.Reply.DstAddress,
                DstPort = v.Reply.DstPort, TcpFlags = LiveNode.Syn | LiveNode.Ack, TcpSeq = 100,
            }));
            await Send(nat, Enumerable.Range(0, Max).Select(i => Client(i, Wire.IpProtocol.Tcp, LiveNode.Ack, 2)));
            // The pools learn of the assured state from the entities (reliably, acknowledged): wait until they all have.
            await TestWait.Until(async () =>
            {
                var assured = 0;
                using var list = admin.ConntrackList(new Wire.ConntrackFilter());
                await foreach (var page in list.ResponseStream.ReadAllAsync()) assured += page.Entries.Count(e => e.Assured);
                return assured == Max;
            }, TimeSpan.FromSeconds(60), $"{Max} assured entries in the pools");
            long dropsBefore = await Stat(admin, "drop"), earlyBefore = await Stat(admin, "early_drop");
            var fullBefore = Metric(await http.GetStringAsync("/metrics"), "actornat_drops_total{", "table-full");
            var full = await Send(nat, Enumerable.Range(Max, 5000).Select(i => Client(i, Wire.IpProtocol.Udp)));
            Assert.All(full, v => Assert.Equal((Wire.VerdictAction.Drop, "table-full"), (v.Action, v.DropReason)));
            Assert.Equal((ulong)Max, (await admin.ConntrackCountAsync(new Wire.Empty())).Count);
            Assert.Equal(5000, await Stat(admin, "drop") - dropsBefore);
            Assert.Equal(earlyBefore, await Stat(admin, "early_drop"));
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Equal(5000, Metric(metrics, "actornat_drops_total{", "table-full") - fullBefore);
            Assert.Equal(Max, Metric(metrics, "actornat_conntrack_max", ""));
            await node.WaitForLineAsync(l => l.Contains("nf_conntrack: table full, dropping packet"), TimeSpan.FromSeconds(10), "the kernel's table-full log line");
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
