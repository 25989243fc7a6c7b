using System.CommandLine;
using System.Runtime.InteropServices;
using ActorNat.Dataplane;
using ActorNat.Dataplane.Cluster;
using ActorNat.Dataplane.Nfq;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat dataplane`: NATs real packets (NFQUEUE) with the cluster's verdicts.</summary>
public static class DataplaneCommand
{
    public static Command Create()
    {
        var queue = new Option<string>("--queue") { Description = "NFQUEUE number, or FIRST:LAST for several queues (iptables --queue-balance; one thread each).", DefaultValueFactory = _ => "0", HelpName = "N|N:M" };
        var netns = new Option<string?>("--netns") { Description = "The router's network namespace (ip netns NAME): the queue is opened and the rules installed there; this process, and its gRPC to the nodes on 127.0.0.1, stay in the root namespace.", HelpName = "NAME" };
        var noRules = new Option<bool>("--no-rules") { Description = "Do not install the iptables rules (raw NOTRACK, mangle PREROUTING/FORWARD NFQUEUE); install them yourself (see docs/DATAPLANE.md)." };
        var mark = new Option<uint>("--mark") { Description = "Mark bit set on replies translated at PREROUTING, so the FORWARD rule does not queue them again.", DefaultValueFactory = _ => 0x1 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most packets in one TranslateStream batch.", DefaultValueFactory = _ => 512 };
        var refresh = new Option<double>("--refresh") { Description = "Seconds between refreshes of the cluster's timeout for flows forwarded from the cache (and the longest the cache answers for an entry the cluster destroyed).", DefaultValueFactory = _ => 1.0, HelpName = "S" };
        var giveUp = new Option<double>("--give-up") { Description = "Seconds a batch is retried on the targets in turn before its packets are dropped (counted as no-node).", DefaultValueFactory = _ => 60, HelpName = "S" };
        var failOpen = new Option<bool>("--fail-open") { Description = "When the kernel's queue is full, let packets pass untranslated instead of dropping them (NFQA_CFG_F_FAIL_OPEN)." };
        var statsEvery = new Option<double>("--stats-interval") { Description = "Print the counters to stderr this often (0: only at exit).", DefaultValueFactory = _ => 0, HelpName = "S" };
        var cmd = new Command("dataplane", """
            NAT real IPv4 packets with the cluster's verdicts (a Linux userspace data plane on NFQUEUE).

            In the router's namespace it installs: raw PREROUTING/OUTPUT -j CT --notrack (the kernel's conntrack stays out
            of the way; put no iptables nat rules there), mangle PREROUTING ! -i lo -j NFQUEUE (every packet is decided
            before routing; a reply's destination is rewritten there and the packet marked) and mangle FORWARD -m mark
            ! --mark M -j NFQUEUE (the original direction's source is rewritten after routing), and mangle OUTPUT ! -o lo -j NFQUEUE (the router's own answers). A flow's first packet and every TCP SYN/FIN/RST go to the cluster in TranslateStream
            batches; established flows are rewritten from a local flow cache that refreshes the cluster's timeout. The
            cluster's drops are dropped and counted by reason. When the node fails, the batch goes to the next --target.
            The cluster needs the router's addresses, routes and nat rules (actornat addr/route/rule add).

            Example (router namespace "router", a 3-node cluster):
              actornat dataplane --netns router --queue 0 --target http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003
            Stop with SIGINT/SIGTERM: the rules are removed and the counters printed.
            """) { queue, netns, noRules, mark, maxBatch, refresh, giveUp, failOpen, statsEvery };
        cmd.SetAction(async (parse, ct) =>
        {
            var err = parse.InvocationConfiguration.Error;
            try
            {
                var targets = (parse.GetValue(GlobalOptions.Target) ?? Environment.GetEnvironmentVariable("ACTORNAT_TARGET") ?? GlobalOptions.DefaultTarget)
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(t => t.Contains("://", StringComparison.Ordinal) ? t : "http://" + t).ToList();
                var (first, last) = ParseQueues(parse.GetValue(queue)!);
                var token = parse.GetValue(GlobalOptions.Token) ?? Environment.GetEnvironmentVariable("ACTORNAT_TOKEN");
                if (parse.GetValue(maxBatch) < 1) throw new ArgumentException("--max-batch must be at least 1");
                if (parse.GetValue(refresh) <= 0) throw new ArgumentException("--refresh must be positive");
                await using var link = new ClusterLink(targets, token, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(parse.GetValue(giveUp)), err);
                var engine = new PacketEngine(link, new EngineOptions(parse.GetValue(mark), parse.GetValue(maxBatch), TimeSpan.FromSeconds(parse.GetValue(refresh)),
                    EarlyRewrite: !parse.GetValue(noRules))); // with --no-rules, accept_local is not ours to set
                return await RunAsync(engine, first, last, parse.GetValue(netns), !parse.GetValue(noRules), parse.GetValue(mark),
                    parse.GetValue(failOpen), parse.GetValue(statsEvery), parse.InvocationConfiguration.Output, err, ct);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or DllNotFoundException)
            {
                await err.WriteLineAsync($"actornat dataplane: {(e is DllNotFoundException ? "libnetfilter_queue.so.1 is missing (apt-get install libnetfilter-queue1)" : e.Message)}");
                return 1;
            }
        });
        return cmd;
    }

    private static (ushort First, ushort Last) ParseQueues(string spec)
    {
        var parts = spec.Split(':');
        if (parts.Length is < 1 or > 2 || !ushort.TryParse(parts[0], out var first) || !ushort.TryParse(parts[^1], out var last) || last < first)
            throw new ArgumentException($"--queue {spec}: expected N or FIRST:LAST (0-65535)");
        return (first, last);
    }

    private static async Task<int> RunAsync(PacketEngine engine, ushort first, ushort last, string? netns, bool installRules, uint mark,
        bool failOpen, double statsEvery, TextWriter output, TextWriter err, CancellationToken ct)
    {
        var queues = new List<NfQueue>();
        var spec = first == last ? $"{first}" : $"{first}:{last}";
        var rules = new Rules(netns, spec, mark, err);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            for (int q = first; q <= last; q++) queues.Add(NfQueue.Open((ushort)q, engine.OnPacket, netns, failOpen: failOpen));
            foreach (var q in queues) q.Start();
            await engine.WarmUpAsync(stop.Token);
            if (installRules) rules.Install();
            await output.WriteLineAsync($"dataplane ready queue={spec} netns={netns ?? "-"} rules={(installRules ? "installed" : "none")}");
            await output.FlushAsync(stop.Token);
            if (statsEvery > 0) _ = StatsLoop(engine, statsEvery, err, stop.Token);
            await engine.RunAsync(stop.Token);
            return 0;
        }
        finally
        {
            rules.Remove();
            foreach (var q in queues) q.Dispose();
            await err.WriteLineAsync($"dataplane: {engine.Counters} flows={engine.Cache.Count} queue_receive_errors={queues.Sum(q => q.ReceiveErrors)}");
        }
    }

    private static Task StatsLoop(PacketEngine engine, double seconds, TextWriter err, CancellationToken ct) => Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds));
        while (await timer.WaitForNextTickAsync(ct)) await err.WriteLineAsync($"dataplane: {engine.Counters} flows={engine.Cache.Count}");
    }, ct).ContinueWith(_ => { }, TaskScheduler.Default);
}
