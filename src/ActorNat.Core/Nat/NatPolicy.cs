using ActorNat.Core.Net;
using ActorNat.Core.Routing;
using ActorNat.Core.Rules;

namespace ActorNat.Core.Nat;

/// <summary>
/// The routing and POSTROUTING decision for a connection's first packet: route lookup (longest prefix, then metric),
/// the first matching rule, and for MASQUERADE the source address the kernel would pick for the next hop.
/// </summary>
public static class NatPolicy
{
    public static NatDecision Decide(Topology topology, RuleSet rules, in FiveTuple original)
    {
        // For the box itself (the local table is looked up first): delivered, never through POSTROUTING, so no rule
        // applies; INPUT's null binding keeps the tuple.
        if (topology.IsLocal(original.Dst)) return NoNat(original, -1, "");
        if (topology.Lookup(original.Dst) is not { } route) return NatDecision.Drop(DropReason.NoRoute);
        var outName = route.Interface.Name;
        var (rule, at) = FirstVerdict(rules, rules.Rules, original, outName, 0);
        switch (rule?.Target)
        {
            case RuleTarget.Masquerade:
            {
                if (Topology.SelectSourceAddress(route.Interface, route.NextHop) is not { } ip)
                    return NatDecision.Drop(DropReason.NoAddress, outName);
                var range = new NatRange(ip, ip, rule.Ports, rule.Random || rule.RandomFully, false);
                return new NatDecision(DecisionKind.Nat, DropReason.None, range, at, outName, true);
            }
            case RuleTarget.Snat:
            {
                var range = new NatRange(rule.ToSourceMin, rule.ToSourceMax, rule.Ports, rule.Random || rule.RandomFully, rule.Persistent);
                return new NatDecision(DecisionKind.Nat, DropReason.None, range, at, outName, false);
            }
            default:
                return NoNat(original, at, outName); // ACCEPT, or the chain's policy (ACCEPT) at its end or on RETURN
        }
    }

    /// <summary>
    /// Walks a chain as netfilter does: the first rule that matches with MASQUERADE, SNAT or ACCEPT decides; RETURN or
    /// the chain's end goes back to the rule after the jump that entered it (`-j`); a `-g` chain's end goes back past the
    /// chain that jumped. Null when nothing decided (the caller goes on, or POSTROUTING's policy applies).
    /// </summary>
    private static (NatRule? Rule, int At) FirstVerdict(RuleSet rules, IReadOnlyList<NatRule> chain, in FiveTuple original, string outName, int depth)
    {
        for (int i = 0; i < chain.Count; i++)
        {
            var rule = chain[i];
            if (!rule.Matches(original, outName)) continue;
            switch (rule.Target)
            {
                case RuleTarget.None:
                    continue;
                case RuleTarget.Return:
                    return (null, i);
                case RuleTarget.Chain:
                {
                    // RuleSet refuses loops; the depth bound only keeps a corrupt table from recursing forever.
                    var target = depth < 64 ? rules.Chain(rule.ChainTarget!) : null;
                    var (decided, at) = target is null ? (null, -1) : FirstVerdict(rules, target, original, outName, depth + 1);
                    if (decided is not null || rule.Goto) return (decided, at);
                    continue;
                }
                default:
                    return (rule, i);
            }
        }
        return (null, -1);
    }

    /// <summary>
    /// No NAT: the kernel still binds the connection to its own source ("null binding"), which keeps the original
    /// tuple unless that reply tuple is already taken.
    /// </summary>
    private static NatDecision NoNat(in FiveTuple original, int rule, string outName) =>
        new(DecisionKind.NoNat, DropReason.None, new NatRange(original.Src, original.Src, null, false, false), rule, outName, false);
}
