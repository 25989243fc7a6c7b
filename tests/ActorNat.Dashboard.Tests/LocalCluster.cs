using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ActorNat.Dashboard.Tests;

/// <summary>
/// A real local cluster started by deploy/local/cluster.sh in a run directory of its own, running the `actornat` this
/// project builds beside itself (ACTORNAT_BIN). `down` at the end stops exactly what it started.
/// </summary>
public sealed partial class LocalCluster : IAsyncDisposable
{
    public string Repo { get; }
    public string RunDir { get; }
    public string Actornat { get; } = Path.Combine(AppContext.BaseDirectory, "actornat");
    public Dictionary<int, string> Grpc { get; } = [];
    public Dictionary<int, string> Dashboard { get; } = [];
    private string Script => Path.Combine(Repo, "deploy", "local", "cluster.sh");

    public LocalCluster()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorNat.sln"))) d = d.Parent;
        Repo = d?.FullName ?? throw new InvalidOperationException("ActorNat.sln not found above " + AppContext.BaseDirectory);
        // Not CreateTempSubdirectory (mode 0700): PostgreSQL runs as its own user and keeps its data and socket in here.
        RunDir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"actornat-dashboard-{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
    }

    public async Task UpAsync(int nodes)
    {
        var output = await RunAsync(TimeSpan.FromMinutes(5), "up", nodes.ToString());
        foreach (Match m in UrlLine().Matches(output))
            (m.Groups[1].Value == "node" ? Grpc : Dashboard)[int.Parse(m.Groups[2].Value)] = m.Groups[3].Value;
        if (Grpc.Count != nodes || Dashboard.Count != nodes) throw new InvalidOperationException("cluster.sh up printed no URLs for every node:\n" + output);
    }

    public Task KillAsync(int node) => RunAsync(TimeSpan.FromMinutes(1), "kill", node.ToString());

    public async Task<string> RunAsync(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ACTORNAT_RUN_DIR"] = RunDir;
        psi.Environment["ACTORNAT_BIN"] = Actornat;
        psi.Environment["ACTORNAT_STOP_TIMEOUT"] = "10";
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"cluster.sh {string.Join(' ', args)} took longer than {timeout}:\n{await e}");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} failed ({p.ExitCode}):\n{await o}\n{await e}");
        return await o;
    }

    public async ValueTask DisposeAsync()
    {
        try { await RunAsync(TimeSpan.FromMinutes(2), "down"); } catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
        try { Directory.Delete(RunDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [GeneratedRegex(@"^(node|dashboard) (\d+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex UrlLine();
}
