using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.FlowTuples;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>The per-flow rules of <c>compare --self</c>: R0 against the scenario, R2, R3, R7, R13 and R15.</summary>
internal static class SelfRules
{
    /// <summary>R0: the flow is the scenario's (a scenario port/id of 0 means kernel-chosen, anything goes).</summary>
    public static void Identity(Report rep, int i, string desc, JsonElement s, JsonElement f)
    {
        var probs = new List<string>();
        if (!Eq(Get(s, "label"), Get(f, "label")))
            probs.Add($"label scenario {Repr(Get(s, "label"))}, project {Repr(Get(f, "label"))}");
        string[] fields = IsIcmp(Get(s, "proto")) ? ["proto", "src", "dst", "id"] : ["proto", "src", "dst", "sport", "dport"];
        foreach (var k in fields)
        {
            var sv = Get(s, k);
            var pv = Get(f, k);
            bool differ = k == "proto"
                ? !(sv.ValueKind == JsonValueKind.String && sv.GetString() == Str(pv).ToLowerInvariant())
                : !Eq(sv, pv);
            var zero = k is "sport" or "id" && Num(sv) == 0 && sv.ValueKind != JsonValueKind.String;
            if (differ && !zero)
                probs.Add($"{k} scenario {Repr(sv)}, project {(k == "proto" ? "'" + Str(pv).ToLowerInvariant() + "'" : Repr(pv))}");
        }
        if (probs.Count > 0) rep.Fail(i, desc, "R0 identity", string.Join("; ", probs));
    }

    public static void Check(Report rep, int i, string desc, JsonElement f, NatContext ctx)
    {
        var ct = Get(f, "conntrack");
        if (IsNone(ct)) return;
        ConsistencyChecks.NatBlock(rep, i, desc, f);
        var proto = CtProto(ct, IsNone(Get(f, "proto")) ? null : Str(Get(f, "proto")));
        JsonElement o = Get(ct, "original"), r = Get(ct, "reply");

        // R2: the original tuple is the flow's own
        var exp = new List<(string Key, JsonElement V)> { ("src", Get(f, "src")), ("dst", Get(f, "dst")) };
        if (IsIcmp(proto)) exp.Add(("id", Get(f, "id")));
        else { exp.Add(("sport", Get(f, "sport"))); exp.Add(("dport", Get(f, "dport"))); }
        var d = exp.Where(e => !Eq(Get(o, e.Key), e.V)).Select(e => $"{e.Key} flow {Str(e.V)}, conntrack {Str(Get(o, e.Key))}").ToList();
        if (d.Count > 0) rep.Fail(i, desc, "R2 original", string.Join("; ", d));

        // R3: the reply comes from the original destination
        if (!Eq(Get(r, "src"), Get(o, "dst")) || (!IsIcmp(proto) && !Eq(Get(r, "sport"), Get(o, "dport"))))
            rep.Fail(i, desc, "R3 reply-peer", $"reply src/sport {Str(Get(r, "src"))}:{Str(Get(r, "sport"))} should be the original dst/dport " +
                                               $"{Str(Get(o, "dst"))}:{Str(Get(o, "dport"))}");
        if (ctx.Rules is null) return;

        // R7: the port lies in the matched rule's range
        JsonElement op = OrigPort(ct), np = NatPort(ct);
        var (kind, rule) = ctx.Decide(f);
        var (rng, rnd, _) = ctx.Allowed(f, op, Eq(np, op) ? default : np, fallback: false);
        if (!Eq(np, op) || (kind == "nat" && rule?.ToPorts is not null) || rnd)
            if (!rng.Contains(IsNone(np) ? null : Num(np)))
                rep.Fail(i, desc, "R7 port-range", $"port {Str(np)} not in {rng.Description}");

        // R15: the NAT address agrees with the matched rule
        var natIp = Get(r, "dst");
        if (kind == "accept")
        {
            if (!Eq(natIp, Get(o, "src")))
                rep.Fail(i, desc, "R15 self-rules", $"no NAT rule matches ({rule?.Label() ?? "chain policy"}) but the source was changed to {Str(natIp)}");
        }
        else if (kind == "nat" && rule!.Target == "SNAT" && rule.ToAddrs is { } ta)
        {
            if (!OracleComparer.InAddrRange(AsString(natIp), ta.Lo, ta.Hi))
                rep.Fail(i, desc, "R15 self-rules", $"NAT source {Str(natIp)} outside --to-source {ta.Lo}-{ta.Hi} of {rule.Label()}");
        }
        else if (kind == "nat" && rule!.Target == "MASQUERADE" && ctx.Addrs is { Count: > 0 } && ctx.Routes is not null)
        {
            var dev = ctx.Routes.OutDev(AsString(Get(f, "dst")));
            if (dev is not null && ctx.Addrs.TryGetValue(dev, out var list))
            {
                var prim = list.Where(a => !a.Secondary).Select(a => a.Ip).ToList();
                if (!(natIp.ValueKind == JsonValueKind.String && prim.Contains(natIp.GetString()!)))
                    rep.Fail(i, desc, "R15 self-rules", $"MASQUERADE via {dev}: NAT source {Str(natIp)} is not a primary address of {dev} ({string.Join(", ", prim)})");
            }
        }
    }
}
