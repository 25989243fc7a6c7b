using System.Diagnostics;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Whether shards may be moving now: a member was downed or removed moments ago and its shards are getting new homes.
/// (Not while a member is merely unreachable: its shards stay where they are until it is downed, so asking again
/// sooner would only add load, and on a loaded machine an unreachable member is often just a slow one.) While so, whoever waits for an answer from a shard asks again after <see cref="RetryEvery"/>
/// instead of its usual timeout (a message sent to the lost node's region is gone, and the region buffers the next
/// one until the shard's new home is known), and everyone waiting is woken at each change (<see cref="Changed"/>), so
/// a request lost before anyone knew is sent again the moment the member is removed. Repeats are idempotent (a
/// repeated first packet or allocation answers with what the first one created).
/// </summary>
public sealed class FailoverWindow
{
    /// <summary>How long after a member was downed or removed its shards are taken to be moving.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    /// <summary>How soon a request is sent again while shards are moving.</summary>
    public static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(250);

    private static readonly long SettleTicks = (long)(Settle.TotalSeconds * Stopwatch.Frequency);
    private long _until;
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>Shards may be moving now.</summary>
    public bool Active => Stopwatch.GetTimestamp() < Volatile.Read(ref _until);

    /// <summary><paramref name="usual"/>, or <see cref="RetryEvery"/> while shards may be moving.</summary>
    public TimeSpan RetryAfter(TimeSpan usual) => Active && RetryEvery < usual ? RetryEvery : usual;

    /// <summary>Completes when the next member is downed or removed.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    private long _generation;

    /// <summary>How many times a member was downed or removed: a waiter that saw it change asks again at once.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>A member was downed or removed: its shards move now.</summary>
    public void MemberLost()
    {
        Volatile.Write(ref _until, Stopwatch.GetTimestamp() + SettleTicks);
        Interlocked.Increment(ref _generation);
        Signal();
    }

    private void Signal() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
