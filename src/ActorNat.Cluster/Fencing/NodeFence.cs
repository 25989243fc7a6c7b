using System.Diagnostics;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// Whether this node may still act for its pools and entries. Two things take that right away:
/// <list type="bullet">
/// <item>a <b>pause</b> (SIGSTOP, a frozen VM, a stall) longer than <see cref="PauseLimit"/>: by then the other members
/// may have downed this node and started its pools elsewhere, so everything it had in flight is stale. Sticky: the
/// node shuts down. A thread of its own notices the gap, and every check compares the clock itself, so whichever runs
/// first after the pause sees it;</item>
/// <item>being on the <b>minority</b> side of the members it can reach (as the split brain resolver's keep-majority
/// would judge it): the other side is about to down this node and take its shards over. Lifted when reachability
/// comes back.</item>
/// <item>no <b>lease</b>: a majority has not answered any of this node's pings sent within the lease
/// (<see cref="SetLease"/>, kept by <see cref="LeaseKeeper"/>). Unlike the minority judgement this needs no failure
/// detector on this side, so it expires on time however the node was cut off (<see cref="FailoverTiming"/>). Lifted
/// when a majority answers again.</item>
/// </list>
/// A fenced node writes nothing to the journal and answers no packet, so two incarnations of a pool never both act.
/// A gap is not taken for a pause when nothing could have replaced the node: it is the cluster's only member
/// (<see cref="SetAlone"/>), or it is still starting (<see cref="Settle"/> not yet called) and the process was running
/// through the gap (its CPU time or GC pauses cover at least half of it: a busy start-up or a GC, not a SIGSTOP).
/// Those gaps are reported through <see cref="Stalled"/>.
/// </summary>
public sealed class NodeFence : IDisposable
{
    private static readonly TimeSpan TickEvery = TimeSpan.FromMilliseconds(100);
    private readonly long _limitTicks;
    private long _lastTick = Stopwatch.GetTimestamp();
    private volatile bool _tripped;
    private volatile bool _minority;
    private volatile bool _disposed;
    private volatile bool _alone = true;
    private volatile bool _settled;
    private long _leaseUntil = long.MaxValue; // Stopwatch ticks; MaxValue: no lease needed (alone, or not an Up member)
    private bool _softFenced; // minority or no lease, as last reported through SoftFenceChanged
    private readonly Lock _softLock = new();
    private long _lastCpuTicks = Environment.CpuUsage.TotalTime.Ticks;
    private long _lastGcTicks = GC.GetTotalPauseDuration().Ticks;
    private Thread? _thread;

    public NodeFence(TimeSpan pauseLimit)
    {
        PauseLimit = pauseLimit;
        _limitTicks = (long)(pauseLimit.TotalSeconds * Stopwatch.Frequency);
    }

    public TimeSpan PauseLimit { get; }

    /// <summary>Raised once, on the thread that noticed the pause: how long it lasted and when it began (Unix ms).</summary>
    public event Action<TimeSpan, long>? Tripped;

    /// <summary>A gap beyond the limit that was not taken for a pause: its length and why not.</summary>
    public event Action<TimeSpan, string>? Stalled;

    /// <summary>Raised when the minority fence goes up (true) or down (false).</summary>
    public event Action<bool>? MinorityChanged;

    /// <summary>
    /// Raised when the fence that lifts again (minority or no lease) goes up or down: whether it is up, since when (Unix
    /// ms: a lease lapses at its deadline, reported by the watch thread up to 100 ms later) and why (`minority`, `lease`).
    /// </summary>
    public event Action<bool, long, string>? SoftFenceChanged;

    public bool IsTripped => _tripped;
    public bool InMinority => _minority;

    /// <summary>May this node act now (journal a change, answer a packet)?</summary>
    public bool MayAct
    {
        get
        {
            if (_tripped || _held is not null) return false;
            if (_thread is not null && !_disposed && Stopwatch.GetTimestamp() - Volatile.Read(ref _lastTick) > _limitTicks) Observe();
            return !_tripped && !_minority && _held is null && Stopwatch.GetTimestamp() < Volatile.Read(ref _leaseUntil);
        }
    }

    /// <summary>Whether the lease has lapsed now (a majority has not answered in time).</summary>
    public bool LeaseLapsed => Stopwatch.GetTimestamp() >= Volatile.Read(ref _leaseUntil);

    /// <summary>Why this node may not act, or null.</summary>
    public string? Reason =>
        _held is { } held ? held
        : _tripped ? $"this node stood still longer than {PauseLimit.TotalSeconds:0.#} s and may have been replaced: it is shutting down"
        : _minority ? "this node is cut off from the majority of the cluster"
        : LeaseLapsed ? "this node has not heard from a majority of the cluster within its lease"
        : null;

    private volatile string? _held;

    /// <summary>
    /// Another reason to stop acting, until the node restarts: its storage can no longer keep what it acknowledges
    /// (<see cref="Hosting.SqliteFileWatch"/>). Readiness reports it.
    /// </summary>
    public void Hold(string reason) => _held ??= reason;

    /// <summary>The reason given to <see cref="Hold"/>, or null.</summary>
    public string? Held => _held;

    public void SetMinority(bool minority)
    {
        if (_minority == minority) return;
        _minority = minority;
        MinorityChanged?.Invoke(minority);
        UpdateSoft();
    }

    /// <summary>
    /// The node may act until <paramref name="untilTimestamp"/> (<see cref="Stopwatch"/> ticks; long.MaxValue: no lease
    /// needed, 0: none held).
    /// </summary>
    public void SetLease(long untilTimestamp)
    {
        Volatile.Write(ref _leaseUntil, untilTimestamp);
        UpdateSoft();
    }

    /// <summary>Reports a change of minority-or-no-lease; a lapse dates from the lease's deadline.</summary>
    private void UpdateSoft()
    {
        string? raise = null;
        bool up;
        long since;
        lock (_softLock)
        {
            long now = Stopwatch.GetTimestamp(), until = Volatile.Read(ref _leaseUntil);
            bool lapsed = now >= until;
            up = _minority || lapsed;
            if (up == _softFenced) return;
            _softFenced = up;
            long unixNow = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            since = up && lapsed && !_minority && until > 0 ? unixNow - Math.Min(now - until, Stopwatch.Frequency * 60) * 1000 / Stopwatch.Frequency : unixNow;
            raise = _minority ? "minority" : "lease";
        }
        SoftFenceChanged?.Invoke(up, since, raise);
    }

    /// <summary>This node is the cluster's only member (true until the cluster says otherwise): no one can replace it.</summary>
    public void SetAlone(bool alone) => _alone = alone;

    /// <summary>Start-up and recovery are over: from now on a busy stall counts as a pause too.</summary>
    public void Settle() => _settled = true;

    public bool Settled => _settled;

    /// <summary>Starts watching for pauses (a real node; tests that drive a manual clock need not).</summary>
    public void Start()
    {
        if (_thread is not null) return;
        Volatile.Write(ref _lastTick, Stopwatch.GetTimestamp());
        _thread = new Thread(Watch) { IsBackground = true, Name = "actornat-pause-fence", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    private void Watch()
    {
        while (!_disposed && !_tripped)
        {
            Thread.Sleep(TickEvery); // the watch's own cadence: a gap far beyond it is a pause
            Observe();
            UpdateSoft(); // a lease lapses by the clock alone: reported from here
        }
    }

    /// <summary>Compares now with the last tick; a gap beyond the limit trips the fence before the tick moves on.</summary>
    private void Observe()
    {
        long now = Stopwatch.GetTimestamp();
        long last = Volatile.Read(ref _lastTick);
        long gap = now - last;
        long cpu = Environment.CpuUsage.TotalTime.Ticks, gc = GC.GetTotalPauseDuration().Ticks;
        long cpuSpent = cpu - Interlocked.Exchange(ref _lastCpuTicks, cpu), gcSpent = gc - Interlocked.Exchange(ref _lastGcTicks, gc);
        if (gap > _limitTicks && NotAPause(TimeSpan.FromSeconds((double)gap / Stopwatch.Frequency), TimeSpan.FromTicks(cpuSpent), TimeSpan.FromTicks(gcSpent)))
            gap = 0;
        if (gap > _limitTicks)
        {
            lock (this)
            {
                if (_tripped) return;
                _tripped = true;
            }
            var pause = TimeSpan.FromSeconds((double)gap / Stopwatch.Frequency);
            Tripped?.Invoke(pause, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)pause.TotalMilliseconds);
            return;
        }
        Interlocked.CompareExchange(ref _lastTick, now, last);
    }

    /// <summary>A gap nothing could have used to replace this node; reported, not tripped.</summary>
    private bool NotAPause(TimeSpan gap, TimeSpan cpu, TimeSpan gc)
    {
        string? why = _alone ? "the only member of its cluster: nothing can replace it"
            : !_settled && (cpu >= gap / 2 || gc >= gap / 2) ? $"starting up and running through it (CPU {cpu.TotalSeconds:0.0} s, GC pauses {gc.TotalSeconds:0.0} s)"
            : null;
        if (why is null) return false;
        Stalled?.Invoke(gap, why);
        return true;
    }

    /// <summary>Stops watching (the actor system is gone); a tripped fence stays tripped.</summary>
    public void Dispose() => _disposed = true;
}
