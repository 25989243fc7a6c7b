using System.Security.Cryptography;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Dataplane.Tests;

/// <summary>
/// Real packets: client namespace → router namespace (whose NAT is `actornat dataplane` with an ActorNat cluster) →
/// server namespace, which has no route back to the client's subnet, so only translated traffic gets answers.
/// Skipped, with the reason, where there is no root, no network namespaces or no libnetfilter_queue.
/// </summary>
[Collection("real traffic")] // one lab at a time: they share the machine's two cores and NFQUEUE numbers per namespace only
public class RealTrafficTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(20);

    private const string UdpEcho = """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("10.0.2.2", 5353))
        while True:
            d, a = s.recvfrom(2048)
            s.sendto(d + b" from " + a[0].encode(), a)
        """;

    // Asks up to 12 times, 3 s each, from one socket (one flow), as a resolver retries: a fresh cluster's first new flow
    // can wait for its shard to be allocated.
    private const string UdpAsk = """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        for attempt in range(12):
            s.sendto(b"question", ("10.0.2.2", 5353))
            try:
                print(s.recvfrom(2048)[0].decode())
                break
            except socket.timeout:
                continue
        else:
            raise SystemExit("no answer to 12 questions")
        """;

    private static async Task<Background> ServersAndDataplane(Lab lab, string www)
    {
        lab.Start("ip", "netns", "exec", lab.Server, "python3", "-m", "http.server", "8080", "--bind", "10.0.2.2", "--directory", www);
        lab.Start("ip", "netns", "exec", lab.Server, "python3", "-c", UdpEcho);
        var dp = lab.Dataplane();
        await dp.WaitForAsync(l => l.StartsWith("dataplane ready", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "ready line");
        // The HTTP server is up once it answers in its own namespace (polled, bounded).
        var until = DateTime.UtcNow + Short;
        while (Lab.Exec("ip", Short, "netns", "exec", lab.Server, "curl", "-sf", "-m", "2", "http://10.0.2.2:8080/").Code != 0)
        {
            Assert.True(DateTime.UtcNow < until, "the HTTP server in the server namespace did not start");
            await Task.Delay(100);
        }
        return dp;
    }

    private static void CurlUdpPing(Lab lab)
    {
        var page = Lab.Must(lab.InClient(Short, "curl", "-sS", "-m", "10", "http://10.0.2.2:8080/index.html")).Output;
        Assert.Equal("hello through ActorNat\n", page);
        var udp = Lab.Must(lab.InClient(TimeSpan.FromSeconds(60), "python3", "-c", UdpAsk)).Output.Trim();
        Assert.Equal("question from 10.0.2.15", udp); // the server saw the router's address: source NAT
        var ping = Lab.Must(lab.InClient(Short, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2")).Output;
        Assert.Contains("3 received", ping);
    }

    private static string Www(Lab lab)
    {
        var www = Path.Combine(lab.Run, "www");
        Directory.CreateDirectory(www);
        File.WriteAllText(Path.Combine(www, "index.html"), "hello through ActorNat\n");
        return www;
    }

    [SkippableFact]
    public async Task Curl_udp_and_ping_go_through_one_node()
    {
        var why = Lab.Unavailable();
        Skip.If(why is not null, why);
        await using var lab = new Lab("andp");
        lab.Namespaces();
        lab.Cluster(1);
        var dp = await ServersAndDataplane(lab, Www(lab));
        CurlUdpPing(lab);

        var table = Lab.Must(Lab.Exec(lab.Actornat, Short, "conntrack", "-L", "--target", lab.Nodes[0])).Output;
        Assert.Matches(@"tcp +6 \d+ TIME_WAIT src=172\.18\.0\.2 dst=10\.0\.2\.2 sport=\d+ dport=8080 src=10\.0\.2\.2 dst=10\.0\.2\.15 sport=8080 dport=\d+ \[ASSURED\]", table);
        Assert.Matches(@"udp +17 \d+ src=172\.18\.0\.2 dst=10\.0\.2\.2 sport=\d+ dport=5353 src=10\.0\.2\.2 dst=10\.0\.2\.15 sport=5353", table);
        Assert.Matches(@"icmp +1 \d+ src=172\.18\.0\.2 dst=10\.0\.2\.2 type=8 code=0 id=\d+ src=10\.0\.2\.2 dst=10\.0\.2\.15 type=0 code=0", table);
        // The echo replies after the first were rewritten from the flow cache (the entry is established after one reply).
        await dp.WaitForAsync(l => l.Contains("forwarded_cache=") && !l.Contains("forwarded_cache=0 "), TimeSpan.FromSeconds(10), "packets forwarded from the cache");
    }

    [SkippableFact]
    public async Task Through_three_nodes_a_50MB_transfer_survives_killing_the_dataplanes_node_and_the_entrys_node()
    {
        var why = Lab.Unavailable();
        Skip.If(why is not null, why);
        await using var lab = new Lab("andq");
        lab.Namespaces();
        lab.Cluster(3);
        var www = Www(lab);
        var big = new byte[50 << 20];
        new Random(15).NextBytes(big);
        File.WriteAllBytes(Path.Combine(www, "big.bin"), big);
        var served = Convert.ToHexStringLower(SHA256.HashData(big)); // the server's end
        var dp = await ServersAndDataplane(lab, www);
        CurlUdpPing(lab);

        // Run 1: kill the node the data plane talks to (its first target) during the transfer.
        await Transfer(lab, served, async () =>
        {
            Lab.Must(lab.ClusterSh(Short, "kill", "1"));
            await dp.WaitForAsync(l => l.Contains("failed") && l.Contains("goes to"), TimeSpan.FromSeconds(30), "the data plane's failover to another node");
        });
        Lab.Must(lab.ClusterSh(TimeSpan.FromSeconds(90), "start", "1"));

        // Run 2: kill the node that holds the transfer's conntrack entry.
        await Transfer(lab, served, async () =>
        {
            var holder = await EntryHolder(lab);
            Lab.Must(lab.ClusterSh(Short, "kill", holder.ToString()));
        });
        CurlUdpPing(lab);
    }

    /// <summary>A rate-limited 50 MB download (≈ 5 s) with <paramref name="fault"/> injected once 5 MB have arrived; the client's SHA-256 must be the server's.</summary>
    private static async Task Transfer(Lab lab, string served, Func<Task> fault)
    {
        var output = Path.Combine(lab.Run, "got.bin");
        File.Delete(output);
        var curl = lab.Start("ip", "netns", "exec", lab.Client, "curl", "-sS", "-m", "180", "--limit-rate", "10M", "-o", output, "http://10.0.2.2:8080/big.bin");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(output) || new FileInfo(output).Length < 5 << 20)
        {
            Assert.True(DateTime.UtcNow < until && !curl.Process.HasExited, "the transfer did not start: " + curl.Output);
            await Task.Delay(50);
        }
        Assert.True(new FileInfo(output).Length < 50 << 20, "the transfer ended before the fault");
        await fault();
        Assert.True(await Task.Run(() => curl.Process.WaitForExit(TimeSpan.FromSeconds(180))), "curl did not finish");
        Assert.True(curl.Process.ExitCode == 0, "curl failed: " + curl.Output);
        await using var f = File.OpenRead(output);
        Assert.Equal(served, Convert.ToHexStringLower(await SHA256.HashDataAsync(f)));
    }

    /// <summary>The cluster.sh index of the node holding the ESTABLISHED entry of the transfer to port 8080.</summary>
    private static async Task<int> EntryHolder(Lab lab)
    {
        foreach (var url in lab.Nodes)
        {
            try
            {
                using var channel = GrpcChannel.ForAddress(url);
                var admin = new Wire.AdminService.AdminServiceClient(channel);
                using var call = admin.ConntrackList(new Wire.ConntrackFilter { DstPort = 8080, State = "ESTABLISHED" }, deadline: DateTime.UtcNow.AddSeconds(10));
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    foreach (var e in call.ResponseStream.Current.Entries) return lab.NodeIndexOf(e.Node);
            }
            catch (Grpc.Core.RpcException) { /* a node that is down or restarting: ask the next one */ }
        }
        throw new Xunit.Sdk.XunitException("no node lists the transfer's ESTABLISHED entry");
    }
}
