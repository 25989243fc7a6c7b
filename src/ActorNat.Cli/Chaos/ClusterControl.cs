using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ActorNat.Cli.Chaos;

/// <summary>
/// The local cluster, driven through deploy/local/cluster.sh (up, kill, start, stop, cont, add, leave, down) in a run
/// directory of its own, and the loopback partition of one node through iptables (root only).
/// </summary>
public sealed partial class ClusterControl(string script, string runDir)
{
    /// <summary>Nodes run under gid Base+I so the owner match can tell their packets apart on 127.0.0.1.</summary>
    public const int GidBase = 61000;
    private const string Chain = "ACTORNAT_CHAOS";

    public string RunDir { get; } = runDir;
    public Dictionary<int, string> Urls { get; } = [];

    /// <summary>Finds cluster.sh above the working directory or the executable.</summary>
    public static string? FindScript()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "deploy", "local", "cluster.sh");
                if (File.Exists(p)) return p;
            }
        return null;
    }

    public async Task<string> Run(CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ACTORNAT_RUN_DIR"] = RunDir;
        psi.Environment["ACTORNAT_NODE_GID_BASE"] = GidBase.ToString();
        psi.Environment["ACTORNAT_STOP_TIMEOUT"] = "25";
        psi.Environment["ACTORNAT_ACTIVATION_LOG"] = "1";
        // Use this very executable for the nodes when it is the actornat apphost (no second build).
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "actornat" && Environment.GetEnvironmentVariable("ACTORNAT_BIN") is null)
            psi.Environment["ACTORNAT_BIN"] = self;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        var o = await stdout;
        var e = await stderr;
        if (p.ExitCode != 0) throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} failed ({p.ExitCode}): {e.Trim()}");
        foreach (Match m in NodeLine().Matches(o)) Urls[int.Parse(m.Groups[1].Value)] = m.Groups[2].Value;
        return o;
    }

    [GeneratedRegex(@"^node (\d+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex NodeLine();

    public Task Up(int n, CancellationToken ct) => Run(ct, "up", n.ToString());
    /// <summary>When each node was SIGKILLed (Unix ms, taken once the signal was sent): where its activations end.</summary>
    public List<(int Node, long UnixMs)> Kills { get; } = [];

    public async Task Kill(int i, CancellationToken ct)
    {
        await Run(ct, "kill", i.ToString());
        lock (Kills) Kills.Add((i, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    }
    public Task Start(int i, CancellationToken ct) => Run(ct, "start", i.ToString());
    public Task Stop(int i, CancellationToken ct) => Run(ct, "stop", i.ToString());
    public Task Cont(int i, CancellationToken ct) => Run(ct, "cont", i.ToString());
    public Task Leave(int i, CancellationToken ct) => Run(ct, "leave", i.ToString());
    public Task Down(CancellationToken ct) => Run(ct, "down");

    public async Task<int> Add(CancellationToken ct)
    {
        var o = await Run(ct, "add");
        return int.Parse(NodeLine().Match(o).Groups[1].Value);
    }

    public bool Running(int i)
    {
        var f = Path.Combine(RunDir, $"node{i}.pid");
        if (!File.Exists(f)) return false;
        var pid = File.ReadAllText(f).Trim();
        return File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("--name\0node" + i, StringComparison.Ordinal);
    }

    public int RemotingPort(int i)
    {
        var lines = File.ReadAllLines(Path.Combine(RunDir, $"node{i}.args"));
        int k = Array.IndexOf(lines, "--remoting");
        return int.Parse(lines[k + 1].Split(':')[1]);
    }

    public string? PostgresConnectionString()
    {
        var f = Path.Combine(RunDir, "postgres.port");
        return File.Exists(f) ? $"Host=127.0.0.1;Port={File.ReadAllText(f).Trim()};Username=actornat;Database=actornat;Pooling=false" : null;
    }

    /// <summary>Node log lines (stderr of every node) that match a pattern.</summary>
    public IEnumerable<string> LogLines(Regex pattern) =>
        Directory.EnumerateFiles(RunDir, "node*.log").SelectMany(f => File.ReadLines(f).Where(l => pattern.IsMatch(l)).Select(l => $"{Path.GetFileName(f)}: {l}"));

    /// <summary>Can this process change iptables (root, CAP_NET_ADMIN)?</summary>
    public static async Task<(bool Ok, string Why)> CanPartition(CancellationToken ct)
    {
        try
        {
            var (code, err) = await Iptables(ct, "-w", "-S", "OUTPUT");
            return code == 0 ? (true, "") : (false, "iptables -S OUTPUT failed: " + err.Trim());
        }
        catch (Exception e) { return (false, "iptables not usable: " + e.Message); }
    }

    /// <summary>
    /// Cuts node i off from the other nodes at the Akka remoting layer, on loopback only: every packet to or from its
    /// remoting port, and every connection it opens to another node's remoting port (marked by its gid through the
    /// owner match), is dropped. gRPC and PostgreSQL stay reachable for it.
    /// </summary>
    public async Task Partition(int i, IEnumerable<int> others, CancellationToken ct)
    {
        await Heal(ct);
        int port = RemotingPort(i);
        var peerPorts = string.Join(',', others.Select(RemotingPort));
        await Must(ct, "-w", "-N", Chain);
        await Must(ct, "-w", "-A", Chain, "-o", "lo", "-p", "tcp", "--dport", port.ToString(), "-j", "DROP");
        await Must(ct, "-w", "-A", Chain, "-o", "lo", "-p", "tcp", "--sport", port.ToString(), "-j", "DROP");
        await Must(ct, "-w", "-A", Chain, "-o", "lo", "-p", "tcp", "-m", "owner", "--gid-owner", (GidBase + i).ToString(),
            "-m", "multiport", "--dports", peerPorts, "-j", "DROP");
        // Answers to the connections node i opened: from a peer's port to node i's socket (marked by conntrack).
        await Must(ct, "-w", "-A", Chain, "-o", "lo", "-p", "tcp", "-m", "connmark", "--mark", "0x6e61", "-j", "DROP");
        await Must(ct, "-w", "-t", "mangle", "-N", Chain);
        await Must(ct, "-w", "-t", "mangle", "-A", Chain, "-o", "lo", "-p", "tcp", "-m", "owner", "--gid-owner", (GidBase + i).ToString(),
            "-m", "multiport", "--dports", peerPorts, "-j", "CONNMARK", "--set-mark", "0x6e61");
        await Must(ct, "-w", "-t", "mangle", "-I", "OUTPUT", "-j", Chain);
        await Must(ct, "-w", "-I", "OUTPUT", "-j", Chain);
    }

    /// <summary>Removes what <see cref="Partition"/> added (and nothing else).</summary>
    public static async Task Heal(CancellationToken ct)
    {
        foreach (var table in new[] { "filter", "mangle" })
        {
            while ((await Iptables(ct, "-w", "-t", table, "-D", "OUTPUT", "-j", Chain)).Code == 0) { }
            await Iptables(ct, "-w", "-t", table, "-F", Chain);
            await Iptables(ct, "-w", "-t", table, "-X", Chain);
        }
    }

    private static async Task Must(CancellationToken ct, params string[] args)
    {
        var (code, err) = await Iptables(ct, args);
        if (code != 0) throw new InvalidOperationException($"iptables {string.Join(' ', args)}: {err.Trim()}");
    }

    private static async Task<(int Code, string Err)> Iptables(CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo("iptables") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync(ct);
        await p.StandardOutput.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await err);
    }
}
