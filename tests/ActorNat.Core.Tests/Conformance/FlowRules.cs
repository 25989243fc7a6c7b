using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.FlowTuples;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>The per-flow rules kernel vs project: R0-R10 and R13 (compare's <c>compare_flow</c>).</summary>
internal static class FlowRules
{
    public static void Check(Report rep, int i, string desc, JsonElement k, JsonElement p, NatContext ctx, double tol)
    {
        // R0 identity
        var probs = new List<string>();
        if (!Eq(Get(k, "label"), Get(p, "label")))
            probs.Add($"label kernel {Repr(Get(k, "label"))}, project {Repr(Get(p, "label"))}");
        var kp = StrOr(k, "proto", "").ToLowerInvariant();
        string[] fields = IsIcmp(kp) ? ["proto", "src", "dst", "id"] : ["proto", "src", "dst", "sport", "dport"];
        foreach (var fld in fields)
        {
            JsonElement kv = Get(k, fld), pv = Get(p, fld);
            if (fld == "proto")
            {
                string ks = Str(kv).ToLowerInvariant(), ps = Str(pv).ToLowerInvariant();
                if (ks != ps) probs.Add($"proto kernel '{ks}', project '{ps}'");
            }
            else if (!Eq(kv, pv)) probs.Add($"{fld} kernel {Repr(kv)}, project {Repr(pv)}");
        }
        if (probs.Count > 0) rep.Fail(i, desc, "R0 identity", string.Join("; ", probs));

        // R1 dropped
        JsonElement kc = Get(k, "conntrack"), pc = Get(p, "conntrack");
        if (IsNone(kc) && IsNone(pc)) return;
        if (IsNone(kc))
        {
            rep.Fail(i, desc, "R1 dropped", $"kernel has no conntrack entry (dropped, or expired before the dump), project has {FmtReply(pc)}");
            return;
        }
        if (IsNone(pc))
        {
            rep.Fail(i, desc, "R1 dropped", $"kernel has an entry (reply {FmtReply(kc)}), project has none (dropped/expired)");
            return;
        }
        ConsistencyChecks.NatBlock(rep, i, desc, p);
        var proto = CtProto(kc, kp);
        JsonElement ko = Get(kc, "original"), po = Get(pc, "original"), kr = Get(kc, "reply"), pr = Get(pc, "reply");

        // R2 original tuple
        if (CtProto(pc, kp) != proto)
            rep.Fail(i, desc, "R2 original", $"conntrack proto kernel {proto}, project {CtProto(pc)}");
        var diffs = OrigFields(proto).Where(f => !Eq(Get(ko, f), Get(po, f)))
            .Select(f => $"{f} kernel {Str(Get(ko, f))}, project {Str(Get(po, f))}").ToList();
        if (diffs.Count > 0) rep.Fail(i, desc, "R2 original", string.Join("; ", diffs));

        // R3 reply peer
        string[] peer = IsIcmp(proto) ? ["src", "type", "code"] : ["src", "sport"];
        diffs = peer.Where(f => !Eq(Get(kr, f), Get(pr, f)))
            .Select(f => $"reply.{f} kernel {Str(Get(kr, f))}, project {Str(Get(pr, f))}").ToList();
        if (diffs.Count > 0) rep.Fail(i, desc, "R3 reply-peer", string.Join("; ", diffs));

        // R4 NAT address
        if (!Eq(Get(kr, "dst"), Get(pr, "dst")))
            rep.Fail(i, desc, "R4 nat-ip", $"kernel NAT source {Str(Get(kr, "dst"))}, project {Str(Get(pr, "dst"))}");

        // R5/R6/R7 ports
        Ports(rep, i, desc, k, kc, pc, proto, ctx);

        // R8 state
        string? ks8 = NormState(Get(kc, "state")), ps8 = NormState(Get(pc, "state"));
        if (ks8 != ps8) rep.Fail(i, desc, "R8 state", $"kernel {ks8 ?? "None"}, project {ps8 ?? "None"}");

        // R9 flags, as sets
        var kfl = Items(Get(kc, "flags")).Select(Key).ToHashSet();
        var pfl = Items(Get(pc, "flags")).Select(Key).ToHashSet();
        if (!kfl.SetEquals(pfl))
            rep.Fail(i, desc, "R9 flags", $"kernel {FlagList(Get(kc, "flags"))}, project {FlagList(Get(pc, "flags"))}");

        // R10 timeout
        JsonElement kt = Get(kc, "timeout"), pt = Get(pc, "timeout");
        if (!IsNone(kt))
        {
            if (pt.ValueKind != JsonValueKind.Number)
                rep.Fail(i, desc, "R10 timeout", $"kernel {Str(kt)}, project {Repr(pt)}");
            else if (Math.Abs(pt.GetDouble() - (Num(kt) ?? throw new FormatException("kernel timeout " + kt.GetRawText()))) > tol)
                rep.Fail(i, desc, "R10 timeout", $"kernel {Str(kt)}, project {Str(pt)} (tolerance {Fmt(tol)} s)");
        }
    }

    private static void Ports(Report rep, int i, string desc, JsonElement k, JsonElement kc, JsonElement pc, string proto, NatContext ctx)
    {
        JsonElement kop = OrigPort(kc), knp = NatPort(kc), pop = OrigPort(pc), pnp = NatPort(pc);
        bool kch = !Eq(knp, kop), pch = !Eq(pnp, pop);
        var unit = IsIcmp(proto) ? "echo id" : "source port";
        var (rng, rnd, _) = ctx.Allowed(k, kop, kch ? knp : default);
        var inRange = rng.Contains(IsNone(pnp) ? null : Num(pnp));
        if (rnd)
        {
            var size = rng.Hi - rng.Lo + 1;
            if (kch && !pch && size >= OracleComparer.RandomStrictMin)
                rep.Fail(i, desc, "R5 port-changed",
                    $"rule is --random/--random-fully and the kernel changed {unit} {Str(kop)} -> {Str(knp)}, project kept {Str(pnp)}");
            if (!inRange)
                rep.Fail(i, desc, "R7 port-range", $"project port {Str(pnp)} not in {rng.Description} (kernel {Str(knp)})");
        }
        else if (!kch && pch)
            rep.Fail(i, desc, "R6 kept-port", $"kernel kept {unit} {Str(kop)}, project changed it to {Str(pnp)}");
        else if (kch && !pch)
            rep.Fail(i, desc, "R5 port-changed", $"kernel changed {unit} {Str(kop)} -> {Str(knp)}, project kept {Str(pnp)}");
        else if (kch && !inRange)
            rep.Fail(i, desc, "R7 port-range", $"project port {Str(pnp)} not in {rng.Description} (kernel {Str(knp)})");
    }

    private static string FlagList(JsonElement flags) =>
        "[" + string.Join(", ", Items(flags).Select(Repr).Distinct().Order(StringComparer.Ordinal)) + "]";
}
