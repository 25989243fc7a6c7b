using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>Runs the oracle's python <c>compare</c> as a process and reads its verdict.</summary>
public sealed partial class PythonCompare
{
    public const string DefaultPath = "/work/shared/oracle/compare";

    private PythonCompare(string python, string compare) { Python = python; Script = compare; }

    public string Python { get; }
    public string Script { get; }

    /// <summary>The runner, or null with the reason why it cannot run (no python3 on PATH, no compare script).</summary>
    public static PythonCompare? Find(out string reason)
    {
        reason = "";
        string? python = null;
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (d.Length > 0 && File.Exists(Path.Combine(d, "python3"))) { python = Path.Combine(d, "python3"); break; }
        if (python is null) { reason = "python3 not found on PATH"; return null; }
        if (!File.Exists(DefaultPath)) { reason = DefaultPath + " does not exist"; return null; }
        return new PythonCompare(python, DefaultPath);
    }

    /// <summary>One run: exit code, stdout lines, stderr lines.</summary>
    public sealed record Run(int ExitCode, IReadOnlyList<string> Stdout, IReadOnlyList<string> Stderr)
    {
        public string Summary => Stdout.Count > 0 ? Stdout[^1].Trim() : "";

        /// <summary>The (flow index or null for global, rule tag) of every mismatch line, sorted.</summary>
        public IReadOnlyList<string> Verdicts => Stdout.Take(Math.Max(0, Stdout.Count - 1)).Select(VerdictOf).Order(StringComparer.Ordinal).ToList();
    }

    public Run Execute(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException("python compare did not finish"); }
        return new Run(p.ExitCode, Lines(stdout), Lines(stderr.Result));
    }

    private static List<string> Lines(string s) => s.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();

    /// <summary>"flow 3 [x] udp ...: R4 nat-ip: ..." -> "3 R4 nat-ip"; "global: R0 identity: ..." -> "global R0 identity".</summary>
    public static string VerdictOf(string line)
    {
        var rule = RuleTag().Match(line);
        var tag = rule.Success ? rule.Groups[1].Value : "?";
        if (line.StartsWith("global: ", StringComparison.Ordinal)) return "global " + tag;
        var flow = FlowIndex().Match(line);
        return (flow.Success ? flow.Groups[1].Value : "?") + " " + tag;
    }

    /// <summary>The same view of a C# result.</summary>
    public static IReadOnlyList<string> Verdicts(ComparisonResult r) =>
        r.Mismatches.Select(m => (m.Flow is { } f ? f.ToString() : "global") + " " + m.Rule).Order(StringComparer.Ordinal).ToList();

    [GeneratedRegex(@": (R\d+ [a-z0-9-]+): ")]
    private static partial Regex RuleTag();

    [GeneratedRegex(@"^flow (\d+)")]
    private static partial Regex FlowIndex();
}
