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
}

public sealed class JournalMeterProvider : ExtensionIdProvider<JournalMeter>
{
    public override JournalMeter CreateExtension(ExtendedActorSystem system) => new();
}
