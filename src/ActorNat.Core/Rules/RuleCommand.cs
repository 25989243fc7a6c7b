namespace ActorNat.Core.Rules;

public enum RuleAction { Append, Insert, Delete, Flush, NewChain, DeleteChain }

/// <summary>
/// A parsed `iptables -t nat …` command. Position is 1-based, as iptables counts. Chain is the chain it names
/// (POSTROUTING or a user chain); null for -F and -X without one (every chain).
/// </summary>
public sealed record RuleCommand(RuleAction Action, NatRule? Rule, int? Position, string? Chain = RuleSet.Postrouting);
