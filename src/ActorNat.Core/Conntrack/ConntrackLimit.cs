namespace ActorNat.Core.Conntrack;

/// <summary>
/// net.netfilter.nf_conntrack_max and what the kernel does when the table is full, once for both backends
/// (nf_conntrack_core.c: __nf_conntrack_alloc and early_drop). A new connection that finds the count at the limit
/// first tries to drop one unassured entry (early_drop; counted early_drop); if none may go, its packet is dropped
/// (counted drop, verdict table-full; the kernel logs "nf_conntrack: table full, dropping packet", rate-limited).
/// 0 means no limit, as in the kernel.
/// </summary>
public static class ConntrackLimit
{
    public const string MaxKey = "net.netfilter.nf_conntrack_max";
    public const string CountKey = "net.netfilter.nf_conntrack_count";
    /// <summary>The kernel's default on a machine with this much memory (it scales with RAM; this machine's is 262144).</summary>
    public const int DefaultMax = 262144;
    /// <summary>The kernel's log line for a table-full drop (net_warn_ratelimited).</summary>
    public const string TableFullMessage = "nf_conntrack: table full, dropping packet";

    /// <summary>
    /// Whether a new entry needs room made first: the kernel counts the new entry in (atomic_inc_return) and compares
    /// with `>`, so a table of max entries is full and the (max+1)th needs an early drop.
    /// </summary>
    public static bool IsFull(long count, int max) => max > 0 && count >= max;

    /// <summary>
    /// early_drop_list: an entry that may be dropped to make room is one not (yet) assured; an expired one is simply
    /// collected. Assured entries (a TCP handshake completed, UDP seen both ways and then again) are never dropped.
    /// </summary>
    public static bool MayEarlyDrop(in ConnState state) => !state.Assured;

    /// <summary>Reads the value of `sysctl -w net.netfilter.nf_conntrack_max=VALUE` as the kernel does (0…INT_MAX).</summary>
    public static int ParseMax(string value)
    {
        if (!int.TryParse(value.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var max) || max < 0)
            throw new ParseException($"sysctl: setting key \"{MaxKey}\": Invalid argument", value);
        return max;
    }

    /// <summary>Whether a sysctl key names nf_conntrack_max or the read-only nf_conntrack_count (dots or slashes).</summary>
    public static bool IsLimitKey(string key, out bool readOnly)
    {
        var k = Normalize(key);
        readOnly = k == CountKey;
        return k == MaxKey || readOnly;
    }

    public static string Normalize(string key) => key.Trim().Replace('/', '.');
}
