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
        if (topology.Lookup(original.Dst) is not { } route) return NatDecision.Drop(DropReason.NoRoute);
        var outName = route.Interface.Name;
        var list = rules.Rules;
        for (int i = 0; i < list.Count; i++)
        {
            var rule = list[i];
            if (!rule.Matches(original, outName)) continue;
            switch (rule.Target)
            {
                case RuleTarget.Masquerade:
                {
                    if (Topology.SelectSourceAddress(route.Interface, route.NextHop) is not { } ip)
                        return NatDecision.Drop(DropReason.NoAddress, outName);
                    var range = new NatRange(ip, ip, rule.Ports, rule.Random || rule.RandomFully, false);
                    return new NatDecision(DecisionKind.Nat, DropReason.None, range, i, outName, true);
                }
                case RuleTarget.Snat:
                {
                    var range = new NatRange(rule.ToSourceMin, rule.ToSourceMax, rule.Ports, rule.Random || rule.RandomFully, rule.Persistent);
                    return new NatDecision(DecisionKind.Nat, DropReason.None, range, i, outName, false);
                }
                default:
                    return NoNat(original, i, outName);
            }
        }
        return NoNat(original, -1, outName);
    }

    /// <summary>
    /// No NAT: the kernel still binds the connection to its own source ("null binding"), which keeps the original
    /// tuple unless that reply tuple is already taken.
    /// </summary>
    private static NatDecision NoNat(in FiveTuple original, int rule, string outName) =>
        new(DecisionKind.NoNat, DropReason.None, new NatRange(original.Src, original.Src, null, false, false), rule, outName, false);
}
