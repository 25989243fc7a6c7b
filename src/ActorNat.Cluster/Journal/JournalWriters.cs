using System.Collections.Concurrent;
using Akka.Actor;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// The node's group-commit writers, one per database: the events journal and sharding's journal of one node share it
/// (one transaction for both, one SQLite writer instead of two taking turns at the file's lock). Per actor system,
/// since tests run several nodes in one process; stopped when the system terminates.
/// </summary>
public sealed class JournalWriters : IExtension
{
    private readonly ActorSystem _system;
    private readonly ConcurrentDictionary<string, Lazy<GroupCommitWriter>> _writers = new();

    public JournalWriters(ActorSystem system)
    {
        _system = system;
        system.RegisterOnTermination(() =>
        {
            foreach (var w in _writers.Values)
                if (w.IsValueCreated) w.Value.Dispose();
        });
    }

    public static JournalWriters Get(ActorSystem system) => system.WithExtension<JournalWriters, JournalWritersProvider>();

    public GroupCommitWriter For(JournalDialect dialect)
    {
        var fence = JournalFence.Get(_system);
        return _writers.GetOrAdd(dialect.Name + "|" + dialect.ConnectionString,
            _ => new Lazy<GroupCommitWriter>(() => new GroupCommitWriter(dialect, () => fence.Refusal))).Value;
    }

    /// <summary>Every writer's counters summed (tests, and the grouping figure in benchmarks).</summary>
    public (long Transactions, long Rows, long Requests) Stats
    {
        get
        {
            long t = 0, r = 0, q = 0;
            foreach (var w in _writers.Values)
                if (w.IsValueCreated)
                {
                    var s = w.Value.Stats;
                    (t, r, q) = (t + s.Transactions, r + s.Rows, q + s.Requests);
                }
            return (t, r, q);
        }
    }
}

public sealed class JournalWritersProvider : ExtensionIdProvider<JournalWriters>
{
    public override JournalWriters CreateExtension(ExtendedActorSystem system) => new(system);
}
