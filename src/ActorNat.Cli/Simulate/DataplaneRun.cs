using System.CommandLine;
using System.Diagnostics;

namespace ActorNat.Cli.Simulate;

/// <summary>
/// `simulate --dataplane`: the node gets the scenario's router (as for --target), then dataplane-oracle.py runs the
/// kernel oracle's flows as real sockets in namespaces, with `actornat dataplane` and the node as the router's NAT.
/// </summary>
internal static class DataplaneRun
{
    public static int Run(ParseResult parse, Scenario scenario, string path, string? oracle, double maxWait)
    {
        var err = parse.InvocationConfiguration.Error;
        using var remote = RemoteTarget.Open(parse, TimeSpan.FromSeconds(maxWait))
            ?? throw new InvalidOperationException("--dataplane needs --target URL: a freshly started node (deploy/local/cluster.sh up 1)");
        oracle ??= FindOracle() ?? throw new InvalidOperationException("no kernel-oracle found: give --oracle PATH or set ORACLE_DIR");
        new Simulator(scenario, remote.Path, 1).ConfigureOnly();
        var driver = Path.Combine(AppContext.BaseDirectory, "Simulate", "dataplane-oracle.py");
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])[driver, "--oracle", oracle, "--actornat", self, "--target", parse.GetValue(Commands.GlobalOptions.Target)!,
                     "--max-time", "300", path])
            psi.ArgumentList.Add(a);
        var token = parse.GetValue(Commands.GlobalOptions.Token);
        if (!string.IsNullOrEmpty(token)) psi.Environment["ACTORNAT_TOKEN"] = token;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        parse.InvocationConfiguration.Output.Write(output);
        if (p.ExitCode != 0) err.WriteLine($"actornat simulate --dataplane: {Path.GetFileName(path)}: the run failed (exit {p.ExitCode})");
        return p.ExitCode;
    }

    private static string? FindOracle()
    {
        var env = Environment.GetEnvironmentVariable("ORACLE_DIR");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "kernel-oracle"))) return Path.Combine(env, "kernel-oracle");
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "shared", "oracle", "kernel-oracle");
                if (File.Exists(candidate)) return candidate;
                candidate = Path.Combine(d.FullName, "..", "shared", "oracle", "kernel-oracle");
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
            }
        }
        return null;
    }
}
