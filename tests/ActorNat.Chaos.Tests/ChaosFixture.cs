using System.Diagnostics;

namespace ActorNat.Chaos.Tests;

/// <summary>Builds the `actornat` CLI once (Release, into a directory of its own) for every test of the collection.</summary>
public sealed class ChaosFixture : IDisposable
{
    public string Repo { get; }
    public string Work { get; }
    public string Actornat { get; }

    public ChaosFixture()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "ActorNat.sln"))) d = d.Parent;
        Repo = d?.FullName ?? throw new InvalidOperationException("ActorNat.sln not found above " + AppContext.BaseDirectory);
        Work = Path.Combine(Path.GetTempPath(), "actornat-chaos-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(Work);
        var bin = Path.Combine(Work, "bin");
        var (code, output) = Run("dotnet", Repo, TimeSpan.FromMinutes(5), "build", Path.Combine(Repo, "src", "ActorNat.Cli", "ActorNat.Cli.csproj"), "-c", "Release", "-o", bin, "-nologo", "-v", "quiet");
        if (code != 0) throw new InvalidOperationException("building the CLI failed:\n" + output);
        Actornat = Path.Combine(bin, "actornat");
    }

    /// <summary>Runs a process to its end or the deadline (then kills it and only it); returns exit code and stdout+stderr.</summary>
    public static (int Code, string Output) Run(string file, string cwd, TimeSpan timeout, params string[] args) =>
        Run(file, cwd, timeout, out _, args);

    public static (int Code, string Output) Run(string file, string cwd, TimeSpan timeout, out string stdout, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill();
            p.WaitForExit();
            stdout = o.Result;
            return (-1, $"timed out after {timeout}\n{o.Result}\n{e.Result}");
        }
        p.WaitForExit();
        stdout = o.Result;
        return (p.ExitCode, o.Result + "\n" + e.Result);
    }

    public void Dispose()
    {
        try { Directory.Delete(Work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition("chaos")]
public sealed class ChaosCollection : ICollectionFixture<ChaosFixture>;
