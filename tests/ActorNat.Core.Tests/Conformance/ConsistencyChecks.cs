using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.FlowTuples;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>Checks of one output against itself: R13 (nat{} vs tuples), R14 (one reply per original), R11 (unique replies).</summary>
internal static class ConsistencyChecks
{
    /// <summary>R13: <c>nat{}</c> is present with a conntrack entry and agrees with its tuples.</summary>
    public static void NatBlock(Report rep, int i, string desc, JsonElement f)
    {
        var ct = Get(f, "conntrack");
        if (IsNone(ct)) return;
        var nat = Get(f, "nat");
        if (!IsObject(nat))
        {
            rep.Fail(i, desc, "R13 nat-block", "conntrack present but nat{} missing");
            return;
        }
        var rd = Get(Get(ct, "reply"), "dst");
        var (op, np) = (OrigPort(ct), NatPort(ct));
        var osrc = Get(Get(ct, "original"), "src");
        var probs = new List<string>();
        if (!Eq(Get(nat, "src"), rd)) probs.Add($"nat.src {Str(Get(nat, "src"))} != reply.dst {Str(rd)}");
        if (!Eq(Get(nat, "sport"), np)) probs.Add($"nat.sport {Str(Get(nat, "sport"))} != reply port {Str(np)}");
        bool srcChanged = !Eq(rd, osrc), portChanged = !Eq(np, op);
        if (Has(nat, "src_changed") && Truthy(Get(nat, "src_changed")) != srcChanged)
            probs.Add($"nat.src_changed {Str(Get(nat, "src_changed"))} but tuples say {Py(srcChanged)}");
        if (Has(nat, "port_changed") && Truthy(Get(nat, "port_changed")) != portChanged)
            probs.Add($"nat.port_changed {Str(Get(nat, "port_changed"))} but tuples say {Py(portChanged)}");
        if (probs.Count > 0) rep.Fail(i, desc, "R13 nat-block", string.Join("; ", probs));
    }

    private static string Py(bool b) => b ? "True" : "False";

    /// <summary>R14 and R11 over all live entries of one output (flows' entries, then <c>other_entries</c>).</summary>
    public static void Unique(Report rep, IReadOnlyList<JsonElement> flows, JsonElement other, IReadOnlyList<string> descs)
    {
        var ents = new List<(int? Flow, JsonElement Entry)>();
        for (int i = 0; i < flows.Count; i++)
        {
            var ct = Get(flows[i], "conntrack");
            if (IsObject(ct)) ents.Add((i, ct));
        }
        foreach (var e in Items(other))
            if (IsObject(e) && Truthy(Get(e, "reply"))) ents.Add((null, e));

        var byOrig = new Dictionary<string, (int? Flow, string Reply)>();
        var distinct = new List<(int? Flow, JsonElement Entry)>();
        foreach (var (i, e) in ents)
        {
            string ok = OrigKey(e), rk = ReplyKey(e);
            if (byOrig.TryGetValue(ok, out var prev))
            {
                if (prev.Reply != rk)
                {
                    var where = prev.Flow is { } j ? $"flow {j}" : "an other_entries item";
                    var msg = $"original tuple also belongs to {where} with a different reply tuple ({prev.Reply})";
                    if (i is { } fi) rep.Fail(fi, descs[fi], "R14 orig-unique", msg);
                    else rep.GlobalFail("R14 orig-unique", $"other_entries item {FmtReply(e)}: {msg}");
                }
                continue;     // same connection listed twice (same 5-tuple flow repeated)
            }
            byOrig[ok] = (i, rk);
            distinct.Add((i, e));
        }
        var byReply = new Dictionary<string, int?>();
        foreach (var (i, e) in distinct)
        {
            var rk = ReplyKey(e);
            if (byReply.TryGetValue(rk, out var j))
            {
                var otherS = j is { } jj ? $"flow {jj}" : "an other_entries item";
                var msg = $"reply tuple {FmtReply(e)} is also used by {otherS}";
                if (i is { } fi) rep.Fail(fi, descs[fi], "R11 unique-reply", msg);
                else if (j is { } fj) rep.Fail(fj, descs[fj], "R11 unique-reply", $"reply tuple {FmtReply(e)} is also used by an other_entries item");
                else rep.GlobalFail("R11 unique-reply", msg);
            }
            else byReply[rk] = i;
        }
    }
}
