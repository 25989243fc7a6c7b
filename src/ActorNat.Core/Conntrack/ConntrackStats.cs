namespace ActorNat.Core.Conntrack;

/// <summary>The `conntrack -S` counters, with the kernel's meanings.</summary>
public sealed class ConntrackStats
{
    /// <summary>Tuples found in use while probing for a free one.</summary>
    public long Found;
    /// <summary>Packets that were invalid in their entry's state.</summary>
    public long Invalid;
    /// <summary>Entries inserted.</summary>
    public long Insert;
    /// <summary>Entries that could not be inserted (no free tuple).</summary>
    public long InsertFailed;
    /// <summary>Packets dropped because no entry could be created.</summary>
    public long Drop;
    /// <summary>Unassured entries dropped to make room in a full table.</summary>
    public long EarlyDrop;
    public long Error;
    public long SearchRestart;
    public long ClashResolve;
    public long ChainTooLong;

    public IEnumerable<(string Name, long Value)> All() =>
    [
        ("found", Found), ("invalid", Invalid), ("insert", Insert), ("insert_failed", InsertFailed), ("drop", Drop),
        ("early_drop", EarlyDrop), ("error", Error), ("search_restart", SearchRestart), ("clash_resolve", ClashResolve),
        ("chaintoolong", ChainTooLong),
    ];

    /// <summary>The `conntrack -S` line of one CPU.</summary>
    public string Format(int cpu = 0) =>
        $"cpu={cpu,-8}\t" + string.Join(" ", All().Select(c => $"{c.Name}={c.Value}")) + " ";
}
