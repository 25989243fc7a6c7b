using System.Diagnostics;
using Akka.Actor;
using ActorNat.Cluster.Failover;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Ingress;

/// <summary>
/// One batch of packets in flight, and the one reply target of all of them: registered once as a temporary actor
/// (so entities on other nodes can answer it too), where a per-packet <c>Ask</c> registered a temporary actor, a
/// promise and a timeout each. Every request carries its index (<c>request_id</c>), echoed in its verdict. Packets
/// chained behind another (same server endpoint) are sent when their predecessor is answered, from the answering
/// thread. A request unanswered after the attempt timeout is sent again (a region may drop messages while a shard
/// moves; entities answer a repeated packet idempotently), for at most <c>attempts</c> attempt timeouts in all. While
/// shards move (<see cref="FailoverWindow"/>) a late request is sent again sooner, and every pending one at once when
/// the cluster's membership changes: so it reaches its shard's new home as soon as there is one.
/// </summary>
public sealed class BatchCall : MinimalActorRef
{
    private const int Waiting = 0, Sent = 1, Answered = 2;

    private readonly IActorRefProvider _provider;
    private readonly ActorPath _path;
    private readonly IActorRef[] _targets;
    private readonly object[] _requests;
    private readonly int[] _next;
    private readonly int[] _state;
    private readonly int[] _attempts;
    private readonly long[] _deadline;
    private readonly long[] _firstSent;
    private readonly long _timeoutTicks;
    private readonly FailoverWindow? _failover;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _left;

    public BatchCall(IActorRefProvider provider, int count, TimeSpan attemptTimeout, FailoverWindow? failover = null)
    {
        _failover = failover;
        _firstSent = new long[count];
        _provider = provider;
        _path = provider.TempPath();
        _targets = new IActorRef[count];
        _requests = new object[count];
        _next = new int[count];
        Array.Fill(_next, -1);
        _state = new int[count];
        _attempts = new int[count];
        _deadline = new long[count];
        _timeoutTicks = (long)(attemptTimeout.TotalSeconds * Stopwatch.Frequency);
        _left = count;
        Answers = new Verdict[count];
        Owners = new IActorRef[count];
    }

    public override ActorPath Path => _path;
    public override IActorRefProvider Provider => _provider;

    /// <summary>The verdicts by request index, once <see cref="RunAsync"/> has returned.</summary>
    public Verdict[] Answers { get; }

    /// <summary>Who answered each request that came with a lease (the entity the node's flow cache refreshes).</summary>
    public IActorRef[] Owners { get; }

    /// <summary>A request answered before the call (by the node's flow cache): nothing is sent for it.</summary>
    public void AnsweredHere(int index)
    {
        _state[index] = Answered;
        _left--;
    }

    public void Set(int index, IActorRef target, object request)
    {
        _targets[index] = target;
        _requests[index] = request;
    }

    /// <summary><paramref name="after"/> is sent once <paramref name="before"/> is answered.</summary>
    public void Chain(int before, int after) => _next[before] = after;

    /// <summary>
    /// Sends the groups (one message answering several requests: a batch of first packets to one bysource bucket) and
    /// the heads of the chains, then waits for every answer, asking again where one is late. A group member that is
    /// late is asked again on its own, with the request <see cref="Set"/> gave it.
    /// </summary>
    public async Task RunAsync(bool[] heads, int maxAttempts, NodeCounters counters, CancellationToken ct,
        IReadOnlyList<(IActorRef Target, object Message, List<int> Members)>? groups = null)
    {
        _provider.RegisterTempActor(this, _path);
        try
        {
            if (Volatile.Read(ref _left) == 0) return;
            if (groups is not null)
                foreach (var (target, message, members) in groups)
                {
                    long due = Stopwatch.GetTimestamp() + _timeoutTicks;
                    foreach (var i in members)
                    {
                        _attempts[i]++;
                        Volatile.Write(ref _deadline[i], due);
                        Interlocked.CompareExchange(ref _state[i], Sent, Waiting);
                    }
                    target.Tell(message, this);
                }
            for (int i = 0; i < heads.Length; i++)
                if (heads[i]) Send(i);
            long budget = maxAttempts * _timeoutTicks;
            while (true)
            {
                var changed = _failover?.Changed;
                long now = Stopwatch.GetTimestamp(), next = long.MaxValue;
                for (int i = 0; i < _state.Length; i++)
                {
                    if (Volatile.Read(ref _state[i]) != Sent) continue;
                    long due = Volatile.Read(ref _deadline[i]);
                    if (due > now)
                    {
                        next = Math.Min(next, due);
                        continue;
                    }
                    if (_attempts[i] >= maxAttempts && now - _firstSent[i] >= budget)
                        throw new AskTimeoutException($"no verdict for request {i} of a batch after {_attempts[i]} attempts in {(double)budget / Stopwatch.Frequency:0.#} s");
                    Interlocked.Increment(ref counters.Retries);
                    Send(i);
                    next = Math.Min(next, Volatile.Read(ref _deadline[i]));
                }
                if (_done.Task.IsCompleted) return;
                // Nothing sent and unanswered means the rest waits on answers in flight: wait one attempt for them.
                var wait = next == long.MaxValue ? _timeoutTicks : next - now;
                var waitFor = changed is null ? _done.Task : Task.WhenAny(_done.Task, changed);
                try
                {
                    await waitFor.WaitAsync(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), ct).ConfigureAwait(false);
                    if (_done.Task.IsCompleted) return;
                    // The membership changed: what is pending may have gone to a lost node; send it again now.
                    for (int i = 0; i < _state.Length; i++) Volatile.Write(ref _deadline[i], 0);
                }
                catch (TimeoutException)
                {
                    // some request is late: the loop asks again
                }
            }
        }
        finally
        {
            _provider.UnregisterTempActor(_path);
        }
    }

    private void Send(int i)
    {
        long now = Stopwatch.GetTimestamp();
        if (_attempts[i]++ == 0) _firstSent[i] = now;
        long timeout = _failover is { Active: true } ? Math.Min(_timeoutTicks, (long)(FailoverWindow.RetryEvery.TotalSeconds * Stopwatch.Frequency)) : _timeoutTicks;
        Volatile.Write(ref _deadline[i], now + timeout);
        if (Interlocked.CompareExchange(ref _state[i], Sent, Waiting) == Answered) return;
        _targets[i].Tell(_requests[i], this);
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is not Verdict v || v.RequestId >= (uint)_state.Length) return;
        int i = (int)v.RequestId;
        if (Interlocked.Exchange(ref _state[i], Answered) == Answered) return; // a late answer to an earlier attempt
        Answers[i] = v;
        if (v.Lease is not null) Owners[i] = sender;
        if (_next[i] >= 0) Send(_next[i]);
        if (Interlocked.Decrement(ref _left) == 0) _done.TrySetResult();
    }
}
