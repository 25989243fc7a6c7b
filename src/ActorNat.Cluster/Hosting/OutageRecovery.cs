namespace ActorNat.Cluster.Hosting;

/// <summary>
/// How fast a node serves again after its database was away (PostgreSQL restarted, the network to it cut). During the
/// outage every write and replay fails: pools stop (a failed persist stops a persistent actor) and, being remembered,
/// are started again after sharding's entity-restart-backoff (1 s here), only to fail their replay while the database
/// is still away. Akka's defaults then keep the node from serving long after the database is back (~80 s measured):
/// after 10 failures each journal's and snapshot store's circuit breaker opens and fails every call for reset-timeout
/// (30 s), opening again at once when the one trial call still fails; and a shard whose remember-entities writes fail
/// is stopped for shard-failure-backoff (10 s). Here the journals' breakers try again after 1 s (one trial call a
/// second is nothing to a database that is away) and a shard after 1 s. The snapshot stores' breakers never open:
/// a snapshot store whose breaker is half open throws on a second load instead of answering it (the store restarts,
/// logging "Circuit breaker is half open, only one call is allowed"), and the pool that asked waits for its
/// recovery-event-timeout (30 s) before it fails and starts again; a load while the database is away fails at once
/// anyway (connection refused). So the node serves within a few seconds of the database's return. Set on the plugin
/// fallbacks, so whichever journal plugin the node configures inherits it.
/// </summary>
public static class OutageRecovery
{
    public const string Hocon = """
        akka.persistence.journal-plugin-fallback.circuit-breaker.reset-timeout = 1s
        akka.persistence.snapshot-store-plugin-fallback.circuit-breaker.max-failures = 1000000000
        akka.persistence.snapshot-store-plugin-fallback.circuit-breaker.reset-timeout = 1s
        akka.cluster.sharding.shard-failure-backoff = 1s
        """;
}
