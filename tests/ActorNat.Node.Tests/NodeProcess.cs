using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace ActorNat.Node.Tests;

/// <summary>
/// The real `actornat node` process (the CLI this test project builds beside itself), its stdout and stderr read as
/// they come, and signals sent to it by pid. Killed (only it) if a test leaves it running.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _arrived = new(0);

    private NodeProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public string GrpcUrl { get; private set; } = "";
    public string MetricsUrl { get; private set; } = "";

    public string Output
    {
        get { lock (_lines) return string.Join("\n", _lines); }
    }

    public static async Task<NodeProcess> StartAsync(params string[] args)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "actornat.exe" : "actornat");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("node");
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = new NodeProcess(Process.Start(psi)!);
        p._process.OutputDataReceived += (_, e) => p.Add(e.Data);
        p._process.ErrorDataReceived += (_, e) => p.Add(e.Data);
        p._process.BeginOutputReadLine();
        p._process.BeginErrorReadLine();
        var ready = await p.WaitForLineAsync(l => l.StartsWith("node ", StringComparison.Ordinal) && l.Contains(" grpc="), TimeSpan.FromSeconds(60), "the node's address line");
        var m = NodeLine().Match(ready);
        p.GrpcUrl = m.Groups[1].Value;
        p.MetricsUrl = m.Groups[2].Value;
        return p;
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(line);
        _arrived.Release();
    }

    /// <summary>Waits until a line of stdout or stderr matches, or fails at the deadline with the output so far.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan deadline, string what)
    {
        using var cts = new CancellationTokenSource(deadline);
        while (true)
        {
            lock (_lines)
                foreach (var l in _lines) if (match(l)) return l;
            if (_process.HasExited && _arrived.CurrentCount == 0)
                throw new Xunit.Sdk.XunitException($"the node exited ({_process.ExitCode}) before {what}:\n{Output}");
            try
            {
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(500), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"no {what} within {deadline}:\n{Output}");
            }
        }
    }

    /// <summary>Sends the signal with kill(1), to this process only.</summary>
    public void Signal(PosixSignal signal)
    {
        var name = signal switch { PosixSignal.SIGTERM => "TERM", PosixSignal.SIGINT => "INT", _ => throw new ArgumentOutOfRangeException(nameof(signal)) };
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, Pid.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{name} {Pid} failed ({kill.ExitCode})");
    }

    /// <summary>SIGKILL: no shutdown of any kind (what a crash or the OOM killer does).</summary>
    public void Kill() => _process.Kill();

    /// <summary>Waits for the exit and returns how long it took, or fails at the deadline.</summary>
    public async Task<TimeSpan> WaitForExitAsync(TimeSpan deadline)
    {
        var sw = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the node did not exit within {deadline}:\n{Output}");
        }
        return sw.Elapsed;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"grpc=(\S+) admin=\S+ metrics=(\S+)")]
    private static partial Regex NodeLine();
}
