using Akka.Actor;
using ActorNat.Cluster.Failover;
using ActorNat.Cluster.Ingress;
using ActorNat.Cluster.Messages;

namespace ActorNat.Cluster.Tests;

/// <summary>
/// The ingress's one reply target per batch: answers matched by request id in any order, chained packets sent only
/// after their predecessor's answer, a lost request asked again, and a request never answered failing the batch.
/// </summary>
public sealed class BatchCallTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("batchcall");

    public void Dispose() => _system.Dispose();

    /// <summary>Answers every EntityPacket with its request id and its packet's seq (as conntrack id); drops the first
    /// copy of the seqs in <paramref name="dropOnce"/>; answers the seqs in <paramref name="never"/> never.</summary>
    private sealed class Target : ReceiveActor
    {
        public Target(List<uint> arrivals, HashSet<uint> dropOnce, HashSet<uint> never)
        {
            Receive<EntityPacket>(m =>
            {
                lock (arrivals) arrivals.Add(m.Packet.Seq);
                if (never.Contains(m.Packet.Seq) || dropOnce.Remove(m.Packet.Seq)) return;
                Sender.Tell(new Verdict { RequestId = m.RequestId, ConntrackId = m.Packet.Seq });
            });
        }
    }

    private (BatchCall, List<uint>) Start(int n, TimeSpan timeout, HashSet<uint>? dropOnce = null, HashSet<uint>? never = null, FailoverWindow? failover = null)
    {
        var arrivals = new List<uint>();
        HashSet<uint> drop = dropOnce ?? [], none = never ?? [];
        var target = _system.ActorOf(Props.Create(() => new Target(arrivals, drop, none)));
        var call = new BatchCall(((ExtendedActorSystem)_system).Provider, n, timeout, failover);
        for (int i = 0; i < n; i++)
            call.Set(i, target, new EntityPacket { Packet = new Packet { Seq = (uint)(100 + i) }, RequestId = (uint)i });
        return (call, arrivals);
    }

    [Fact]
    public async Task Every_request_gets_its_own_answer_and_a_chained_one_goes_after_its_predecessor()
    {
        var (call, arrivals) = Start(4, TimeSpan.FromSeconds(10));
        call.Chain(0, 2);
        call.Chain(2, 3);
        await call.RunAsync([true, true, false, false], 4, new NodeCounters(), CancellationToken.None);
        Assert.Equal([100ul, 101, 102, 103], call.Answers.Select(v => v.ConntrackId));
        Assert.True(arrivals.IndexOf(102) > arrivals.IndexOf(100) && arrivals.IndexOf(103) > arrivals.IndexOf(102));
    }

    [Fact]
    public async Task A_lost_request_is_sent_again_and_its_successor_follows()
    {
        var (call, arrivals) = Start(3, TimeSpan.FromMilliseconds(200), dropOnce: [101]);
        call.Chain(1, 2);
        var counters = new NodeCounters();
        await call.RunAsync([true, true, false], 4, counters, CancellationToken.None);
        Assert.Equal([100ul, 101, 102], call.Answers.Select(v => v.ConntrackId));
        // At least one retry (a slow machine may retry the others too: asking again is allowed, never answering twice)
        Assert.True(counters.Retries >= 1);
        Assert.True(arrivals.Count(s => s == 101) >= 2);
        Assert.True(arrivals.IndexOf(102) > arrivals.IndexOf(101, arrivals.IndexOf(101) + 1)); // only the answered copy lets 102 go
    }

    [Fact]
    public async Task A_request_never_answered_fails_the_batch_after_its_attempts()
    {
        var (call, arrivals) = Start(2, TimeSpan.FromMilliseconds(100), never: [101]);
        await Assert.ThrowsAsync<AskTimeoutException>(() => call.RunAsync([true, true], 3, new NodeCounters(), CancellationToken.None));
        Assert.Equal(3, arrivals.Count(s => s == 101));
    }

    [Fact]
    public async Task A_member_lost_wakes_a_waiting_batch_and_its_lost_request_is_sent_again_at_once()
    {
        // The attempt timeout is a minute: only the membership change can bring the lost request's second copy.
        var window = new FailoverWindow();
        var (call, arrivals) = Start(2, TimeSpan.FromMinutes(1), dropOnce: [101], failover: window);
        var run = call.RunAsync([true, true], 4, new NodeCounters(), CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (arrivals.Count(s => s == 101) < 1 && DateTime.UtcNow < deadline) await Task.Delay(10); // polling for the first copy
        Assert.False(run.IsCompleted);
        window.MemberLost();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([100ul, 101], call.Answers.Select(v => v.ConntrackId));
        Assert.Equal(2, arrivals.Count(s => s == 101));
    }

    [Fact]
    public async Task While_shards_move_a_late_request_is_asked_again_sooner_and_still_fails_only_after_its_budget()
    {
        var window = new FailoverWindow();
        window.MemberLost();
        Assert.True(window.Active);
        Assert.Equal(FailoverWindow.RetryEvery, window.RetryAfter(TimeSpan.FromSeconds(2)));
        // Attempt timeout 1 s, 2 attempts: a budget of 2 s, asked again every 250 ms meanwhile (about 8 copies).
        var (call, arrivals) = Start(1, TimeSpan.FromSeconds(1), never: [100], failover: window);
        await Assert.ThrowsAsync<AskTimeoutException>(() => call.RunAsync([true], 2, new NodeCounters(), CancellationToken.None));
        Assert.True(arrivals.Count >= 3, $"{arrivals.Count} copies");
    }

    [Fact]
    public void Outside_a_failover_the_usual_timeout_holds()
    {
        var window = new FailoverWindow();
        Assert.False(window.Active);
        Assert.Equal(TimeSpan.FromSeconds(2), window.RetryAfter(TimeSpan.FromSeconds(2)));
    }
}
