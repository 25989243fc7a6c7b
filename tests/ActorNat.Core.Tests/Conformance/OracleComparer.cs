using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.FlowTuples;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>The input is no simulate/oracle output (compare exits 2 on it).</summary>
public sealed class OracleInputException(string message) : Exception(message);

/// <summary>
/// A port of the oracle's python <c>compare</c> (/work/shared/oracle/compare): the kernel's output against the
/// project's, flow by flow, rules R0-R14 (<see cref="Compare(JsonElement, JsonElement, JsonElement?, double)"/>),
/// and the <c>--self</c> consistency checks incl. R15 (<see cref="SelfCheck(JsonElement, JsonElement?)"/>).
/// </summary>
public static class OracleComparer
{
    /// <summary>Under --random: enforce port_changed only for ranges at least this big.</summary>
    public const int RandomStrictMin = 10000;
    public const double DefaultTolerance = 15.0;

    public static ComparisonResult Compare(JsonDocument kernel, JsonDocument project, JsonDocument? scenario = null,
        double tolerance = DefaultTolerance) =>
        Compare(kernel.RootElement, project.RootElement, scenario?.RootElement, tolerance);

    public static ComparisonResult SelfCheck(JsonDocument project, JsonDocument? scenario = null) =>
        SelfCheck(project.RootElement, scenario?.RootElement);

    /// <summary><c>compare [--scenario S] [--tolerance T] KERNEL PROJECT</c>.</summary>
    public static ComparisonResult Compare(JsonElement kernel, JsonElement project, JsonElement? scenario = null,
        double tolerance = DefaultTolerance)
    {
        Validate(kernel, "kernel");
        Validate(project, "project");
        var ctx = NatContext.FromOutput(kernel).OrScenario(scenario);
        var notes = new List<string>();
        if (ctx.Rules is null) notes.Add("kernel output has no nat_rules and no --scenario given: ranges are inferred");
        var kf = Items(Get(kernel, "flows")).ToList();
        var pf = Items(Get(project, "flows")).ToList();
        int n = Math.Max(kf.Count, pf.Count);
        var src = Enumerable.Range(0, n).Select(i => i < kf.Count ? kf[i] : pf[i]).ToList();
        var descs = src.Select((f, i) => FlowDesc(i, f)).ToList();
        var rep = new Report(n, src.Select(LabelOf).ToList());
        if (kf.Count != pf.Count) rep.GlobalFail("R0 identity", $"kernel has {kf.Count} flows, project has {pf.Count}");
        for (int i = 0; i < n; i++)
        {
            if (i >= pf.Count) rep.Fail(i, descs[i], "R0 identity", "flow missing in project output");
            else if (i >= kf.Count) rep.Fail(i, descs[i], "R0 identity", "extra flow in project output (kernel has none)");
            else FlowRules.Check(rep, i, descs[i], kf[i], pf[i], ctx, tolerance);
        }
        ConsistencyChecks.Unique(rep, pf, Get(project, "other_entries"), descs);
        CheckReuse(rep, kf, pf, ctx, descs);
        return rep.Finish([.. notes, .. ctx.Notes]);
    }

    /// <summary>R12: the kernel's mapping reuse (same changed port for the same client ip:port and NAT address) is reproduced.</summary>
    private static void CheckReuse(Report rep, List<JsonElement> kf, List<JsonElement> pf, NatContext ctx, List<string> descs)
    {
        var groups = new Dictionary<string, (List<int> Idx, string[] Show)>();
        var order = new List<string>();
        for (int i = 0; i < Math.Min(kf.Count, pf.Count); i++)
        {
            var kc = Get(kf[i], "conntrack");
            if (!IsObject(kc)) continue;
            var (kop, knp) = (OrigPort(kc), NatPort(kc));
            if (Eq(knp, kop)) continue;
            var (kind, r) = ctx.Decide(kf[i]);
            if (kind == "nat" && r is { IsRandom: true }) continue;
            if (kind == "uncertain") continue;
            var osrc = Get(Get(kc, "original"), "src");
            var ndst = Get(Get(kc, "reply"), "dst");
            var key = string.Join("|", CtProto(kc), Key(osrc), Key(kop), Key(ndst), Key(knp));
            if (!groups.TryGetValue(key, out var g))
            {
                groups[key] = g = ([], [Str(osrc), Str(kop), Str(ndst), Str(knp)]);
                order.Add(key);
            }
            g.Idx.Add(i);
        }
        foreach (var key in order)
        {
            var (idx, show) = groups[key];
            if (idx.Count < 2) continue;
            int first = idx[0];
            var pc0 = Get(pf[first], "conntrack");
            if (!IsObject(pc0)) continue;
            var p0 = NatPort(pc0);
            var d0 = Get(Get(pc0, "reply"), "dst");
            foreach (var i in idx.Skip(1))
            {
                var pc = Get(pf[i], "conntrack");
                if (!IsObject(pc)) continue;
                var d = Get(Get(pc, "reply"), "dst");
                if (!Eq(NatPort(pc), p0) || !Eq(d, d0))
                    rep.Fail(i, descs[i], "R12 mapping-reuse",
                        $"kernel reused the mapping of flow {first} ({show[0]}:{show[1]} -> {show[2]}:{show[3]}); project gave flow {first} " +
                        $"{Str(d0)}:{Str(p0)} but this flow {Str(d)}:{Str(NatPort(pc))}");
            }
        }
    }

    /// <summary><c>compare --self [--scenario S] PROJECT</c>: internal consistency only (R0 against the scenario, R2, R3,
    /// R7, R11, R13, R14, R15).</summary>
    public static ComparisonResult SelfCheck(JsonElement project, JsonElement? scenario = null)
    {
        Validate(project, "project");
        var ctx = NatContext.FromOutput(project).OrScenario(scenario);
        var sflows = scenario is { } s ? ScenarioContext.ExpandFlows(s) : null;
        var pf = Items(Get(project, "flows")).ToList();
        int n = sflows is null ? pf.Count : Math.Max(pf.Count, sflows.Count);
        var src = Enumerable.Range(0, n).Select(i => i < pf.Count ? pf[i] : sflows![i]).ToList();
        var descs = src.Select((f, i) => FlowDesc(i, f)).ToList();
        var rep = new Report(n, src.Select(LabelOf).ToList());
        var notes = new List<string>();
        if (sflows is not null && sflows.Count != pf.Count)
            rep.GlobalFail("R0 identity", $"scenario expands to {sflows.Count} flows, project has {pf.Count}");
        if (ctx.Rules is null) notes.Add("no NAT rules available (give --scenario): rule/range checks skipped");
        for (int i = 0; i < n; i++)
        {
            if (i >= pf.Count) { rep.Fail(i, descs[i], "R0 identity", "flow missing in project output"); continue; }
            if (sflows is not null)
            {
                if (i >= sflows.Count) rep.Fail(i, descs[i], "R0 identity", "extra flow (scenario has none)");
                else SelfRules.Identity(rep, i, descs[i], sflows[i], pf[i]);
            }
            SelfRules.Check(rep, i, descs[i], pf[i], ctx);
        }
        ConsistencyChecks.Unique(rep, pf, Get(project, "other_entries"), descs);
        return rep.Finish([.. notes, .. ctx.Notes]);
    }

    /// <summary><c>--explain</c>: per flow, the matched rule, the allowed range and the NAT address:port.</summary>
    public static IReadOnlyList<string> Explain(JsonElement output, JsonElement? scenario = null)
    {
        var ctx = NatContext.FromOutput(output).OrScenario(scenario);
        var lines = new List<string>();
        int i = 0;
        foreach (var f in Items(Get(output, "flows")))
        {
            var (kind, r) = ctx.Decide(f);
            var ct = Get(f, "conntrack");
            var op = FlowPort(f);
            var np = IsObject(ct) ? NatPort(ct) : default;
            var a = ctx.Allowed(f, op, Eq(np, op) ? default : np);
            lines.Add($"explain: {FlowDesc(i++, f)} -> {kind}{(r is null ? "" : " by " + r.Label())}; range {a.Range.Description}" +
                      $"{(a.Random ? " (random)" : "")}{(a.Certain ? "" : " (inferred)")}; nat " +
                      (IsObject(ct) ? $"{Str(Get(Get(ct, "reply"), "dst"))}:{Str(np)}" : "dropped"));
        }
        return lines;
    }

    private static string? LabelOf(JsonElement f) => IsNone(Get(f, "label")) ? null : Str(Get(f, "label"));

    private static void Validate(JsonElement j, string what)
    {
        if (!IsObject(j) || !Has(j, "flows"))
            throw new OracleInputException($"{what}: not a simulate/oracle output (no 'flows')" +
                (Truthy(Get(j, "error")) ? ": error " + Str(Get(j, "error")) : ""));
    }

    /// <summary>Python <c>ipaddress.ip_address(a) &lt;= ip &lt;= b</c>.</summary>
    internal static bool InAddrRange(string? ip, IpAddr lo, IpAddr hi) =>
        IpAddr.TryParse(ip, out var a) && lo <= a && a <= hi;
}
