namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// One failed check. <see cref="Flow"/> is null for a global error (e.g. a different number of flows).
/// <see cref="Rule"/> is compare's tag, e.g. <c>R4 nat-ip</c>; <see cref="RuleId"/> its first word (<c>R4</c>).
/// </summary>
public sealed record Mismatch(int? Flow, string? Label, string Rule, string Message, string Description)
{
    public string RuleId => Rule.Split(' ')[0];

    /// <summary>The line compare prints for it.</summary>
    public override string ToString() => Flow is null ? $"global: {Rule}: {Message}" : $"{Description}: {Rule}: {Message}";
}

/// <summary>The outcome of a comparison: mismatches in compare's print order, and per-flow pass/fail counts.</summary>
public sealed class ComparisonResult
{
    internal ComparisonResult(IReadOnlyList<Mismatch> mismatches, int flows, IReadOnlyList<string> notes)
    {
        Mismatches = mismatches;
        Failed = mismatches.Where(m => m.Flow is not null).Select(m => m.Flow).Distinct().Count();
        Passed = flows - Failed;
        GlobalErrors = mismatches.Count(m => m.Flow is null);
        Notes = notes;
    }

    public IReadOnlyList<Mismatch> Mismatches { get; }
    public int Passed { get; }
    public int Failed { get; }
    public int GlobalErrors { get; }
    /// <summary>What compare prints on stderr as <c>note:</c> (e.g. an inferred range).</summary>
    public IReadOnlyList<string> Notes { get; }
    public bool Ok => Mismatches.Count == 0;

    /// <summary>compare's last line: <c>N passed, M failed[ (+K global errors)]</c>.</summary>
    public string Summary => $"{Passed} passed, {Failed} failed" + (GlobalErrors > 0 ? $" (+{GlobalErrors} global errors)" : "");

    public override string ToString() => string.Join("\n", Mismatches.Select(m => m.ToString()).Append(Summary));
}

/// <summary>Collects failures while the checks run; <see cref="Finish"/> orders them as compare prints them.</summary>
internal sealed class Report(int flows, IReadOnlyList<string?> labels)
{
    private readonly SortedDictionary<int, List<Mismatch>> _failed = [];
    private readonly List<Mismatch> _global = [];

    public void Fail(int i, string desc, string rule, string msg)
    {
        if (!_failed.TryGetValue(i, out var l)) _failed[i] = l = [];
        l.Add(new Mismatch(i, i < labels.Count ? labels[i] : null, rule, msg, desc));
    }

    public void GlobalFail(string rule, string msg) => _global.Add(new Mismatch(null, null, rule, msg, "global"));

    public ComparisonResult Finish(IReadOnlyList<string> notes) =>
        new([.. _failed.Values.SelectMany(l => l), .. _global], flows, notes);
}
