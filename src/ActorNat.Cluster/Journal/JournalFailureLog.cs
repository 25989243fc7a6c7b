using Akka.Event;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// One error line per 10 s at most for a journal that cannot write, with how many failures it stands for (a failing
/// database fails every request). Safe from any thread (the write path continues off the journal actor).
/// </summary>
public sealed class JournalFailureLog(ILoggingAdapter log, string journal)
{
    private long _lastLogTicks;
    private int _unlogged;

    public void Log(Exception e)
    {
        long now = Environment.TickCount64, last = Volatile.Read(ref _lastLogTicks);
        if (last != 0 && now - last < 10_000 || Interlocked.CompareExchange(ref _lastLogTicks, now, last) != last)
        {
            Interlocked.Increment(ref _unlogged);
            return;
        }
        int more = Interlocked.Exchange(ref _unlogged, 0);
        log.Error("the {0} journal cannot write ({1} more failures since the last line); this node is not ready: {2}: {3}",
            journal, more, e.GetType().Name, e.Message);
    }
}
