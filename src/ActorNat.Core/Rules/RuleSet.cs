namespace ActorNat.Core.Rules;

/// <summary>
/// The nat table as source NAT sees it: the POSTROUTING chain and the user chains it may jump to, rules in order,
/// first match wins. Errors read like iptables' own (nf_tables backend).
/// </summary>
public sealed class RuleSet
{
    public const string Postrouting = "POSTROUTING";

    private readonly SortedDictionary<string, List<NatRule>> _user = new(StringComparer.Ordinal); // iptables lists them sorted
    private readonly List<NatRule> _postrouting = [];

    /// <summary>The POSTROUTING chain.</summary>
    public IReadOnlyList<NatRule> Rules => _postrouting;

    /// <summary>Every rule of every chain (what an SNAT address range or a pool size may come from).</summary>
    public IEnumerable<NatRule> AllRules => _postrouting.Concat(_user.Values.SelectMany(c => c));

    /// <summary>A chain's rules, or null when no such chain exists.</summary>
    public IReadOnlyList<NatRule>? Chain(string name) => name == Postrouting ? _postrouting : _user.GetValueOrDefault(name);

    public void Apply(RuleCommand command)
    {
        switch (command.Action)
        {
            case RuleAction.NewChain: NewChain(command.Chain!); return;
            case RuleAction.DeleteChain: DeleteChain(command.Chain); return;
            case RuleAction.Flush when command.Chain is null:
                _postrouting.Clear();
                foreach (var c in _user.Values) c.Clear();
                return;
        }
        var chain = Writable(command.Chain!);
        if (command.Rule is { Target: RuleTarget.Chain } jump) CheckJump(command.Chain!, jump.ChainTarget!);
        switch (command.Action)
        {
            case RuleAction.Append:
                chain.Add(command.Rule!);
                break;
            case RuleAction.Insert:
            {
                int at = (command.Position ?? 1) - 1;
                if (at > chain.Count) throw new InvalidOperationException($"Index of insertion too big ({command.Position})");
                chain.Insert(at, command.Rule!);
                break;
            }
            case RuleAction.Delete when command.Position is { } pos:
                if (pos > chain.Count) throw new InvalidOperationException($"Index of deletion too big ({pos})");
                chain.RemoveAt(pos - 1);
                break;
            case RuleAction.Delete:
            {
                int i = chain.FindIndex(r => r.Spec() == command.Rule!.Spec());
                if (i < 0) throw new InvalidOperationException("Bad rule (does a matching rule exist in that chain?)");
                chain.RemoveAt(i);
                break;
            }
            case RuleAction.Flush:
                chain.Clear();
                break;
        }
    }

    /// <summary>`iptables -t nat -S`: the policy, the user chains, then every chain's rules.</summary>
    public IEnumerable<string> Listing()
    {
        yield return "-P POSTROUTING ACCEPT";
        foreach (var name in _user.Keys) yield return "-N " + name;
        foreach (var r in _postrouting) yield return "-A POSTROUTING " + r.Spec();
        foreach (var (name, rules) in _user)
            foreach (var r in rules) yield return $"-A {name} {r.Spec()}";
    }

    private List<NatRule> Writable(string name) =>
        name == Postrouting ? _postrouting
        : _user.TryGetValue(name, out var c) ? c
        : throw new ParseException($"Chain '{name}' does not exist", name);

    private void NewChain(string name)
    {
        if (name == Postrouting || IptablesParser.BuiltinChains.Contains(name) || _user.ContainsKey(name))
            throw new InvalidOperationException("Chain already exists.");
        _user[name] = [];
    }

    private void DeleteChain(string? name)
    {
        if (name is null)
        {
            // -X alone deletes every user chain, or none: each must be empty and no POSTROUTING rule may jump to it.
            if (_user.FirstOrDefault(u => u.Value.Count > 0 || _postrouting.Any(r => r.ChainTarget == u.Key)) is { Key: { } busy })
                throw Busy(busy);
            _user.Clear();
            return;
        }
        if (!_user.ContainsKey(name))
            throw new InvalidOperationException(name == Postrouting || IptablesParser.BuiltinChains.Contains(name)
                ? $"Can't delete built-in chain {name}" : $"Chain '{name}' does not exist");
        DeleteOne(name);
    }

    private void DeleteOne(string name)
    {
        bool referenced = _postrouting.Concat(_user.Where(u => u.Key != name).SelectMany(u => u.Value)).Any(r => r.ChainTarget == name);
        if (referenced || _user[name].Count > 0) throw Busy(name);
        _user.Remove(name);
    }

    private static InvalidOperationException Busy(string name) => new($"CHAIN_DEL failed (Device or resource busy): chain {name}");

    /// <summary>A jump needs its chain, and may not close a loop (the kernel's ELOOP: "Too many links").</summary>
    private void CheckJump(string from, string to)
    {
        // iptables' words for a target that is neither built in nor a chain (a typo of MASQUERADE reads the same).
        if (!_user.ContainsKey(to)) throw new ParseException($"Chain '{to}' does not exist", to);
        if (to == from || Reaches(to, from, 0))
            throw new InvalidOperationException($"RULE_APPEND failed (Too many links): rule in chain {from}");
    }

    private bool Reaches(string chain, string target, int depth) =>
        depth < 64 && _user.TryGetValue(chain, out var rules) &&
        rules.Any(r => r.ChainTarget is { } next && (next == target || Reaches(next, target, depth + 1)));
}
