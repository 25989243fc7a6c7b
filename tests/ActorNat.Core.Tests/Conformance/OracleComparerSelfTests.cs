using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// The comparator proven on the golden files, as /work/shared/oracle/compare-selftest proves compare: every golden
/// file passes against itself (also --self), and every mutation fails with the expected rule and one failed flow.
/// </summary>
public class OracleComparerSelfTests(ITestOutputHelper output)
{
    private sealed record Case(string Golden, Action<JsonNode> Mutate, string Rule, int FailedFlows = 1);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["NAT IP changed"] = new("article", j => SetNatIp(Flow(j, "dns"), "10.0.2.99"), "R4 nat-ip"),
        ["kept port changed"] = new("article", j => SetNatPort(Flow(j, "dns"), 38001), "R6 kept-port"),
        ["kept ICMP id changed"] = new("icmp-id-collision", j => SetNatPort(Flow(j, "C2-id4660-D53"), 4661), "R6 kept-port"),
        ["state changed"] = new("article", j => Flow(j, "http")["conntrack"]!["state"] = "SYN_RECV", "R8 state"),
        ["ASSURED flag dropped"] = new("article", j => Flow(j, "http")["conntrack"]!["flags"] = new JsonArray(), "R9 flags"),
        ["UNREPLIED flag added"] = new("article", j => Flow(j, "dns")["conntrack"]!["flags"] = new JsonArray("UNREPLIED"), "R9 flags"),
        ["reply tuple duplicated"] = new("same-sport-collision", DupReply, "R11 unique-reply"),
        ["conntrack nulled"] = new("article", j => { var f = Flow(j, "far"); f["conntrack"] = null; f["nat"] = null; }, "R1 dropped"),
        ["dropped flow given an entry"] = new("port-range-exhaustion", UnNull, "R1 dropped"),
        ["timeout off by 20 s"] = new("article", j => { var ct = Flow(j, "dns")["conntrack"]!; ct["timeout"] = (int)ct["timeout"]! + 20; }, "R10 timeout"),
        ["port outside --to-ports"] = new("article", j => SetNatPort(Flow(j, "http"), 40000), "R7 port-range"),
        ["port outside class range"] = new("same-sport-collision", j => SetNatPort(Flow(j, "udp500-172.18.0.3"), 700), "R7 port-range"),
        ["label changed"] = new("article", j => Flow(j, "dns")["label"] = "dns2", "R0 identity"),
        ["mapping reuse broken"] = new("same-sport-collision", j =>
        {
            var f = Flow(j, "udp-C3-second-dst");
            var p = PortOf(f);
            SetNatPort(f, p < 65535 ? p + 1 : p - 1);
        }, "R12 mapping-reuse"),
        ["--random port kept"] = new("random-flags", j => SetNatPort(Flow(j, "rnd-udp-C2-33000"), 33000), "R5 port-changed"),
        ["nat{} inconsistent"] = new("article", j => Flow(j, "dns")["nat"]!["sport"] = 1234, "R13 nat-block"),
        ["original tuple changed"] = new("article", j => Flow(j, "dns")["conntrack"]!["original"]!["dport"] = 54, "R2 original"),
        ["reply peer changed"] = new("article", j => Flow(j, "http")["conntrack"]!["reply"]!["sport"] = 8080, "R3 reply-peer"),
        ["SNAT address changed"] = new("snat-to-source", j => SetNatIp(Flow(j, "tcp-C4-same-ip-as-C3"), "203.0.113.72"), "R4 nat-ip"),
        ["flow missing"] = new("article", j => { var a = j["flows"]!.AsArray(); a.RemoveAt(a.Count - 1); }, "R0 identity"),
    };

    private static readonly Dictionary<string, Case> SelfCases = new()
    {
        ["--self: reply tuple duplicated"] = new("same-sport-collision", DupReply, "R11 unique-reply"),
        ["--self: port outside --to-ports"] = new("article", j => SetNatPort(Flow(j, "http"), 40000), "R7 port-range"),
        ["--self: SNAT address outside range"] = new("snat-to-source", j => SetNatIp(Flow(j, "tcp-C4-same-ip-as-C3"), "203.0.113.99"), "R15 self-rules"),
        ["--self: secondary address chosen"] = new("secondary-address-states", j => SetNatIp(Flow(j, "udp-default-route"), "10.0.2.16"), "R15 self-rules"),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);
    public static TheoryData<string> SelfCaseNames() => new(SelfCases.Keys);

    [Theory]
    [MemberData(nameof(ConformanceData.Goldens), MemberType = typeof(ConformanceData))]
    public void Golden_against_itself_passes(string golden)
    {
        var g = ConformanceData.Golden(golden);
        var r = OracleComparer.Compare(g, g);
        output.WriteLine(r.ToString());
        Assert.True(r.Ok, r.ToString());
        Assert.Equal(g.GetProperty("flows").GetArrayLength(), r.Passed);
        Assert.Equal(0, r.Failed);
    }

    [Theory]
    [MemberData(nameof(ConformanceData.SelfCheckable), MemberType = typeof(ConformanceData))]
    public void Golden_passes_self_check(string golden)
    {
        var r = OracleComparer.SelfCheck(ConformanceData.Golden(golden));
        output.WriteLine(r.ToString());
        Assert.True(r.Ok, r.ToString());
        var withScenario = OracleComparer.SelfCheck(ConformanceData.Golden(golden), ConformanceData.ScenarioJson(golden));
        Assert.True(withScenario.Ok, withScenario.ToString());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Mutation_fails_with_expected_rule(string title)
    {
        var c = Cases[title];
        var mutated = ConformanceData.GoldenNode(c.Golden);
        c.Mutate(mutated);
        var r = OracleComparer.Compare(ConformanceData.Golden(c.Golden), ConformanceData.ToElement(mutated));
        AssertFails(r, c);
    }

    [Theory]
    [MemberData(nameof(SelfCaseNames))]
    public void Self_mutation_fails_with_expected_rule(string title)
    {
        var c = SelfCases[title];
        var mutated = ConformanceData.GoldenNode(c.Golden);
        c.Mutate(mutated);
        var r = OracleComparer.SelfCheck(ConformanceData.ToElement(mutated));
        AssertFails(r, c);
    }

    private void AssertFails(ComparisonResult r, Case c)
    {
        output.WriteLine(r.ToString());
        Assert.False(r.Ok);
        Assert.Contains(r.Mismatches, m => m.Rule == c.Rule && m.Flow is not null);
        Assert.Equal(c.FailedFlows, r.Failed);
    }

    // ---- mutators (as compare-selftest's) ----

    private static JsonNode Flow(JsonNode j, string label, int nth = 0) =>
        j["flows"]!.AsArray().Where(f => (string?)f!["label"] == label).ElementAt(nth)!;

    private static bool IsIcmp(JsonNode f) => (string?)f["conntrack"]!["proto"] == "icmp";

    private static int PortOf(JsonNode f) => (int)f["conntrack"]!["reply"]![IsIcmp(f) ? "id" : "dport"]!;

    private static void SetNatPort(JsonNode f, int port)
    {
        var ct = f["conntrack"]!;
        var icmp = IsIcmp(f);
        ct["reply"]![icmp ? "id" : "dport"] = port;
        var op = (int)ct["original"]![icmp ? "id" : "sport"]!;
        f["nat"]!["sport"] = port;
        f["nat"]!["port_changed"] = port != op;
    }

    private static void SetNatIp(JsonNode f, string ip)
    {
        f["conntrack"]!["reply"]!["dst"] = ip;
        f["nat"]!["src"] = ip;
        f["nat"]!["src_changed"] = ip != (string?)f["conntrack"]!["original"]!["src"];
    }

    private static void DupReply(JsonNode j) => SetNatPort(Flow(j, "udp-172.18.0.4"), PortOf(Flow(j, "udp-172.18.0.3")));

    /// <summary>Gives a kernel-dropped flow an entry (a copy of a live one with its own original tuple).</summary>
    private static void UnNull(JsonNode j)
    {
        var flows = j["flows"]!.AsArray();
        var dropped = flows.First(f => f!["conntrack"] is null)!;
        var live = flows.First(f => f!["conntrack"] is not null)!;
        var ct = live["conntrack"]!.DeepClone();
        ct["original"]!["sport"] = dropped["sport"]!.DeepClone();
        ct["reply"]!["dport"] = 55690;
        dropped["conntrack"] = ct;
        dropped["nat"] = new JsonObject
        {
            ["src"] = ct["reply"]!["dst"]!.DeepClone(), ["sport"] = 55690, ["src_changed"] = true, ["port_changed"] = true,
        };
    }
}
