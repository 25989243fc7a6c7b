namespace ActorNat.Core.Rules;

public enum RuleAction { Append, Insert, Delete, Flush }

/// <summary>A parsed `iptables -t nat …` command. Position is 1-based, as iptables counts.</summary>
public sealed record RuleCommand(RuleAction Action, NatRule? Rule, int? Position);
