using Akka.Actor;

namespace ActorNat.Cluster.Hosting;

/// <summary>
/// One call of the journal's write path: <paramref name="Events"/> events (of one or more persistent actors) handed to
/// the journal together, and how long until the database acknowledged them (or the write failed).
/// <paramref name="Rejected"/>: atomic writes the journal refused without failing the rest (serialization errors).
/// </summary>
public readonly record struct JournalWrite(string Journal, TimeSpan Duration, int Events, int Rejected, bool Failed);

/// <summary>
/// Where <see cref="MeteredSqlJournal"/> reports its writes. The journal is an actor Akka creates from configuration,
/// out of reach of dependency injection, so the host subscribes here, per actor system (several nodes may share a
/// process in tests). Writes made while nobody listens are not kept.
/// </summary>
public sealed class JournalMeter : IExtension
{
    private Action<JournalWrite>? _observer;

    public static JournalMeter Get(ActorSystem system) => system.WithExtension<JournalMeter, JournalMeterProvider>();

    /// <summary>Called on the journal's thread for every write: keep it cheap and never throw.</summary>
    public void Observe(Action<JournalWrite>? observer) => Volatile.Write(ref _observer, observer);

    internal void Record(in JournalWrite write) => Volatile.Read(ref _observer)?.Invoke(write);

    // ---- the journal's health: readiness turns off while writes fail ----

    /// <summary>How long a failed write keeps readiness off without another failure (a success clears it at once).</summary>
    public static readonly TimeSpan ProblemHoldsFor = TimeSpan.FromSeconds(15);

    private long _lastFailureTicks, _lastSuccessTicks;
    private string? _lastError;

    internal void Succeeded() => Volatile.Write(ref _lastSuccessTicks, Environment.TickCount64);

    internal void Failed(string journal, Exception e)
    {
        Volatile.Write(ref _lastError, $"the {journal} journal cannot write: {e.GetType().Name}: {e.Message}");
        Volatile.Write(ref _lastFailureTicks, Environment.TickCount64);
    }

    /// <summary>Why the journal is not writing now (its last write failed, recently, and none succeeded since), or null.</summary>
    public string? Problem
    {
        get
        {
            long failed = Volatile.Read(ref _lastFailureTicks);
            if (failed == 0 || failed <= Volatile.Read(ref _lastSuccessTicks)) return null;
            return Environment.TickCount64 - failed > (long)ProblemHoldsFor.TotalMilliseconds ? null : Volatile.Read(ref _lastError);
        }
    }
}

public sealed class JournalMeterProvider : ExtensionIdProvider<JournalMeter>
{
    public override JournalMeter CreateExtension(ExtendedActorSystem system) => new();
}
