using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ActorNat.Dataplane.Tests;

/// <summary>
/// Real processes for the real-traffic tests: namespaces from deploy/local/netns-lab.sh, a cluster from
/// deploy/local/cluster.sh (running the `actornat` this project builds beside itself), servers in the server namespace,
/// and `actornat dataplane` in the root namespace with its queue in the router's. Everything it starts it stops, by pid.
/// </summary>
public sealed class Lab : IAsyncDisposable
{
    private readonly List<Process> _started = [];
    private bool _clusterUp;

    public Lab(string name)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorNat.sln"))) d = d.Parent;
        Repo = d?.FullName ?? throw new InvalidOperationException("ActorNat.sln not found above " + AppContext.BaseDirectory);
        Name = $"{name}{Environment.ProcessId % 100000}";
        Run = Path.Combine(Path.GetTempPath(), $"actornat-dataplane-{Name}");
        Directory.CreateDirectory(Run);
    }

    public string Repo { get; }
    public string Name { get; }
    public string Run { get; }
    public string Actornat => Path.Combine(AppContext.BaseDirectory, "actornat");
    public string Router => Name + "-router";
    public string Client => Name + "-client";
    public string Server => Name + "-server";
    public List<string> Nodes { get; } = [];

    /// <summary>Why these tests cannot run here, or null: they need root, network namespaces and libnetfilter_queue.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.UserName != "root" && geteuid() != 0) return "needs root (network namespaces, NFQUEUE)";
        if (!NativeLibrary.TryLoad("libnetfilter_queue.so.1", out var h)) return "libnetfilter_queue.so.1 is missing (bash deploy/install-deps.sh)";
        NativeLibrary.Free(h);
        foreach (var tool in new[] { "ip", "iptables", "curl", "ping", "python3" })
            if (Exec("sh", TimeSpan.FromSeconds(10), "-c", $"command -v {tool}").Code != 0) return $"{tool} is missing (bash deploy/install-deps.sh)";
        var probe = $"andpprobe{Environment.ProcessId}";
        if (Exec("ip", TimeSpan.FromSeconds(10), "netns", "add", probe).Code != 0) return "network namespaces are not available here";
        Exec("ip", TimeSpan.FromSeconds(10), "netns", "del", probe);
        return null;
    }

    [DllImport("libc")] private static extern uint geteuid();

    public void Namespaces() => Must(Exec("bash", TimeSpan.FromSeconds(30), Path.Combine(Repo, "deploy/local/netns-lab.sh"), "up", Name));

    /// <summary>cluster.sh up N (SQLite for one node, PostgreSQL for more) and the lab's router configuration on it.</summary>
    public void Cluster(int n)
    {
        _clusterUp = true;
        var (_, output) = Must(ClusterSh(TimeSpan.FromMinutes(4), "up", n.ToString()));
        foreach (var line in output.Split('\n'))
            if (line.StartsWith("node ", StringComparison.Ordinal)) Nodes.Add(line.Split(' ')[2].Trim());
        Assert.Equal(n, Nodes.Count);
        Must(Exec("env", TimeSpan.FromSeconds(60), "ACTORNAT_BIN=" + Actornat, "bash", Path.Combine(Repo, "deploy/local/netns-lab.sh"), "configure", Nodes[0], Name));
    }

    public (int Code, string Output) ClusterSh(TimeSpan timeout, params string[] args) =>
        Exec("env", timeout, ["ACTORNAT_RUN_DIR=" + Path.Combine(Run, "cluster"), "ACTORNAT_BIN=" + Actornat, "bash", Path.Combine(Repo, "deploy/local/cluster.sh"), .. args]);

    /// <summary>The 1-based index of the cluster.sh node whose remoting address appears in <paramref name="member"/>.</summary>
    public int NodeIndexOf(string member)
    {
        for (int i = 1; i <= Nodes.Count; i++)
        {
            var args = File.ReadAllLines(Path.Combine(Run, "cluster", $"node{i}.args"));
            int at = Array.IndexOf(args, "--remoting");
            if (at >= 0 && member.Contains(args[at + 1], StringComparison.Ordinal)) return i;
        }
        throw new InvalidOperationException($"no node of this cluster is {member}");
    }

    /// <summary>A long-running process (server, data plane), its output collected, stopped at the end.</summary>
    public Background Start(params string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args.Skip(1)) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _started.Add(p);
        return new Background(p);
    }

    public Background Dataplane(params string[] extra) =>
        Start([Actornat, "dataplane", "--netns", Router, "--target", string.Join(',', Nodes), "--stats-interval", "1", .. extra]);

    public (int Code, string Output) InClient(TimeSpan timeout, params string[] args) => Exec("ip", timeout, ["netns", "exec", Client, .. args]);

    public static (int Code, string Output) Exec(string file, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill();
            p.WaitForExit();
            return (-1, $"{file} {string.Join(' ', args)}: timed out after {timeout}\n{o.Result}\n{e.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, o.Result + e.Result);
    }

    public static (int Code, string Output) Must((int Code, string Output) r)
    {
        Assert.True(r.Code == 0, r.Output);
        return r;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Enumerable.Reverse(_started))
        {
            if (!p.HasExited) Exec("kill", TimeSpan.FromSeconds(5), "-TERM", p.Id.ToString());
            if (!p.WaitForExit(TimeSpan.FromSeconds(10))) p.Kill();
            await p.WaitForExitAsync();
            p.Dispose();
        }
        if (_clusterUp) ClusterSh(TimeSpan.FromSeconds(60), "down");
        Exec("bash", TimeSpan.FromSeconds(30), Path.Combine(Repo, "deploy/local/netns-lab.sh"), "down", Name);
        try { Directory.Delete(Run, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A started process with its stdout and stderr lines.</summary>
public sealed class Background
{
    private readonly List<string> _lines = [];

    public Background(Process p)
    {
        Process = p;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    public Process Process { get; }
    public string Output { get { lock (_lines) return string.Join("\n", _lines); } }

    /// <summary>Polls the output for a line until the deadline; fails with the output so far.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            lock (_lines)
                foreach (var l in _lines) if (match(l)) return l;
            if (Process.HasExited) break;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no {what} within {deadline.TotalSeconds:0} s (exited: {Process.HasExited}):\n{Output}");
    }
}
