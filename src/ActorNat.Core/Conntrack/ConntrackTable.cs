using ActorNat.Core.Nat;
using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

public enum DestroyReason : byte { Expired, Killed, Deleted, Flushed, AddressRemoved, InterfaceDown, Evicted, EarlyDrop, Reopened }

/// <summary>
/// The conntrack table of one NAT box: entries in one array, found by either tuple through one hash (as the kernel
/// hashes both directions), a bysource chain per client ip:port for mapping reuse, and an expiry wheel of one-second
/// slots swept as time passes. Expired entries also vanish lazily at lookup, as in the kernel.
/// Not thread-safe: one owner (an engine, or an actor) drives it.
/// </summary>
public sealed class ConntrackTable : ITupleSpace
{
    private const int WheelSize = 4096;
    private const int EarlyDropScan = 64;

    private ConntrackEntry[] _entries;
    private int _highWater;
    private int _freeHead = -1;
    private readonly Dictionary<FiveTuple, int> _index;
    private readonly Dictionary<SourceKey, int> _bySource;
    private readonly int[] _wheel = new int[WheelSize];
    private long _sweptSecond;
    private int _earlyDropCursor;

    public ConntrackTable(int capacity = 1024, int maxEntries = 262144)
    {
        _entries = new ConntrackEntry[Math.Max(16, capacity)];
        _index = new Dictionary<FiveTuple, int>(capacity * 2);
        _bySource = new Dictionary<SourceKey, int>(capacity);
        Array.Fill(_wheel, -1);
        MaxEntries = maxEntries;
        _sweptSecond = -1;
    }

    /// <summary>The time the table judges expiry by; its owner sets it before each operation.</summary>
    public long NowMs { get; set; }

    /// <summary>nf_conntrack_max.</summary>
    public int MaxEntries { get; set; }

    public int Count { get; private set; }

    public ConntrackStats Stats { get; } = new();

    /// <summary>Raised after an entry was inserted; not raised on the hot path unless someone listens.</summary>
    public event Action<ConntrackEntry>? Created;

    /// <summary>Raised after an entry left the table, with the reason.</summary>
    public event Action<ConntrackEntry, DestroyReason>? Destroyed;

    public ref ConntrackEntry this[int index] => ref _entries[index];

    private readonly record struct SourceKey(Protocol Proto, IPv4 Ip, ushort Port);

    /// <summary>Finds the live entry holding <paramref name="tuple"/> in either direction.</summary>
    public bool TryLookup(in FiveTuple tuple, out int index, out Direction direction)
    {
        if (_index.TryGetValue(tuple, out var v))
        {
            index = v >> 1;
            direction = (Direction)(v & 1);
            if (!_entries[index].State.IsExpired(NowMs)) return true;
            Destroy(index, DestroyReason.Expired);
        }
        index = -1;
        direction = default;
        return false;
    }

    /// <summary>Inserts a confirmed entry. Returns -1 when the table is full and no unassured entry could be dropped.</summary>
    public int Insert(ulong id, in FiveTuple original, in FiveTuple reply, in ConnState state, string? masqueradeInterface)
    {
        if (Count >= MaxEntries && !EarlyDrop()) return -1;
        int i;
        if (_freeHead >= 0)
        {
            i = _freeHead;
            _freeHead = _entries[i].BySourceNext;
        }
        else
        {
            if (_highWater == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
            i = _highWater++;
        }
        ref var e = ref _entries[i];
        e = new ConntrackEntry
        {
            Id = id, Original = original, Reply = reply, State = state, MasqueradeInterface = masqueradeInterface, Live = true,
        };
        _index[original] = i << 1;
        _index[reply] = (i << 1) | 1;
        var key = new SourceKey(original.Proto, original.Src, original.Key);
        e.BySourcePrev = -1;
        e.BySourceNext = _bySource.TryGetValue(key, out var head) ? head : -1;
        if (e.BySourceNext >= 0) _entries[e.BySourceNext].BySourcePrev = i;
        _bySource[key] = i;
        LinkWheel(i);
        Count++;
        Stats.Insert++;
        Created?.Invoke(e);
        return i;
    }

    public void Destroy(int i, DestroyReason reason)
    {
        ref var e = ref _entries[i];
        if (!e.Live) return;
        _index.Remove(e.Original);
        _index.Remove(e.Reply);
        var key = new SourceKey(e.Original.Proto, e.Original.Src, e.Original.Key);
        if (e.BySourcePrev >= 0) _entries[e.BySourcePrev].BySourceNext = e.BySourceNext;
        else if (e.BySourceNext >= 0) _bySource[key] = e.BySourceNext;
        else _bySource.Remove(key);
        if (e.BySourceNext >= 0) _entries[e.BySourceNext].BySourcePrev = e.BySourcePrev;
        UnlinkWheel(i);
        e.Live = false;
        Count--;
        var copy = e;
        e.MasqueradeInterface = null;
        e.BySourceNext = _freeHead;
        _freeHead = i;
        Destroyed?.Invoke(copy, reason);
    }

    /// <summary>Call after an entry's expiry changed: an earlier expiry moves it to its slot now; a later one lazily.</summary>
    public void Touch(int i)
    {
        ref var e = ref _entries[i];
        long second = SlotSecond(e.State.ExpiresMs);
        if (second < e.WheelSlotSecond())
        {
            UnlinkWheel(i);
            LinkWheel(i);
        }
    }

    /// <summary>Destroys every entry whose time ran out. Returns how many went.</summary>
    public int Sweep()
    {
        long upTo = NowMs / 1000 - 1; // a slot is only surely expired once its second has passed
        if (upTo <= _sweptSecond) return 0;
        long from = Math.Max(_sweptSecond + 1, upTo - WheelSize + 1);
        int destroyed = 0;
        for (long s = from; s <= upTo; s++)
        {
            int slot = (int)(s & (WheelSize - 1));
            int i = _wheel[slot];
            while (i >= 0)
            {
                int next = _entries[i].WheelNext;
                if (_entries[i].State.IsExpired(NowMs))
                {
                    Destroy(i, DestroyReason.Expired);
                    destroyed++;
                }
                else if (SlotSecond(_entries[i].State.ExpiresMs) != s)
                {
                    UnlinkWheel(i);
                    LinkWheel(i);
                }
                i = next;
            }
        }
        _sweptSecond = upTo;
        return destroyed;
    }

    /// <summary>Indices of the live, unexpired entries, oldest slot first.</summary>
    public IEnumerable<int> Live()
    {
        for (int i = 0; i < _highWater; i++)
            if (_entries[i].Live && !_entries[i].State.IsExpired(NowMs)) yield return i;
    }

    // ---- ITupleSpace ----

    public bool IsTaken(in FiveTuple tuple)
    {
        if (TryLookup(tuple, out _, out _))
        {
            Stats.Found++;
            return true;
        }
        return false;
    }

    public bool TryEvictForSyn(in FiveTuple reply, uint synSeqEnd)
    {
        if (!TryLookup(reply, out var i, out var dir) || dir != Direction.Reply) return false;
        ref var e = ref _entries[i];
        if (!NatRules.MayEvictForSyn(e.State, synSeqEnd)) return false;
        Destroy(i, DestroyReason.Evicted);
        return true;
    }

    public bool TryFindBySource(Protocol proto, IPv4 client, ushort clientPort, in NatRange range, out IPv4 natIp, out ushort natPort)
    {
        if (_bySource.TryGetValue(new SourceKey(proto, client, clientPort), out var i))
        {
            while (i >= 0)
            {
                ref var e = ref _entries[i];
                int next = e.BySourceNext;
                if (NatRules.BySourceUsable(e.State.IsExpired(NowMs), range, e.NatIp, e.NatPort))
                {
                    natIp = e.NatIp;
                    natPort = e.NatPort;
                    return true;
                }
                i = next;
            }
        }
        natIp = default;
        natPort = 0;
        return false;
    }

    // ---- internals ----

    private bool EarlyDrop()
    {
        for (int n = 0; n < EarlyDropScan && _highWater > 0; n++)
        {
            int i = _earlyDropCursor++ % _highWater;
            ref var e = ref _entries[i];
            if (e.Live && (e.State.IsExpired(NowMs) || !e.State.Assured))
            {
                bool expired = e.State.IsExpired(NowMs);
                Destroy(i, expired ? DestroyReason.Expired : DestroyReason.EarlyDrop);
                if (!expired) Stats.EarlyDrop++;
                return true;
            }
        }
        return false;
    }

    private long SlotSecond(long expiresMs) => Math.Max(expiresMs / 1000, _sweptSecond + 1);

    private void LinkWheel(int i)
    {
        ref var e = ref _entries[i];
        long second = SlotSecond(e.State.ExpiresMs);
        int slot = (int)(second & (WheelSize - 1));
        e.WheelSlot = slot;
        e.WheelSecond = second;
        e.WheelPrev = -1;
        e.WheelNext = _wheel[slot];
        if (e.WheelNext >= 0) _entries[e.WheelNext].WheelPrev = i;
        _wheel[slot] = i;
    }

    private void UnlinkWheel(int i)
    {
        ref var e = ref _entries[i];
        if (e.WheelPrev >= 0) _entries[e.WheelPrev].WheelNext = e.WheelNext;
        else _wheel[e.WheelSlot] = e.WheelNext;
        if (e.WheelNext >= 0) _entries[e.WheelNext].WheelPrev = e.WheelPrev;
        e.WheelNext = e.WheelPrev = -1;
    }
}
