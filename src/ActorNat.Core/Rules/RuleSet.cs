namespace ActorNat.Core.Rules;

/// <summary>The nat table's POSTROUTING chain: rules in order, first match wins.</summary>
public sealed class RuleSet
{
    private readonly List<NatRule> _rules = [];

    public IReadOnlyList<NatRule> Rules => _rules;

    /// <summary>Applies an `iptables -t nat` command. Errors read like iptables' own.</summary>
    public void Apply(RuleCommand command)
    {
        switch (command.Action)
        {
            case RuleAction.Append:
                _rules.Add(command.Rule!);
                break;
            case RuleAction.Insert:
            {
                int at = (command.Position ?? 1) - 1;
                if (at > _rules.Count) throw new InvalidOperationException($"Index of insertion too big ({command.Position})");
                _rules.Insert(at, command.Rule!);
                break;
            }
            case RuleAction.Delete when command.Position is { } pos:
                if (pos > _rules.Count) throw new InvalidOperationException($"Index of deletion too big ({pos})");
                _rules.RemoveAt(pos - 1);
                break;
            case RuleAction.Delete:
            {
                int i = _rules.FindIndex(r => r.Spec() == command.Rule!.Spec());
                if (i < 0) throw new InvalidOperationException("Bad rule (does a matching rule exist in that chain?)");
                _rules.RemoveAt(i);
                break;
            }
            case RuleAction.Flush:
                _rules.Clear();
                break;
        }
    }

    /// <summary>`iptables -t nat -S POSTROUTING`.</summary>
    public IEnumerable<string> Listing() => _rules.Select(r => r.ToString()).Prepend("-P POSTROUTING ACCEPT");
}
