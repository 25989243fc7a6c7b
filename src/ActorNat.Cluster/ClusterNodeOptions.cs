namespace ActorNat.Cluster;

/// <summary>How one node joins the cluster and where it keeps its state.</summary>
public sealed record ClusterNodeOptions
{
    public string SystemName { get; init; } = "actornat";
    public string NodeName { get; init; } = Environment.MachineName;
    /// <summary>Akka remoting address; port 0 picks a free one.</summary>
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 0;
    /// <summary>The host other members reach this node at (a pod or container address); default: <see cref="Host"/>.</summary>
    public string? PublicHost { get; init; }
    /// <summary>Seed nodes (akka.tcp://actornat@host:port); none: this node founds the cluster.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];
    /// <summary>`memory`, `sqlite:PATH` (one node) or `postgres://user:password@host:port/database` (several).</summary>
    public string Database { get; init; } = "sqlite:data/actornat.db";
    /// <summary>"actornat" (the group-commit journal, <see cref="Journal.GroupCommitJournal"/>) or "akka" (Akka.Persistence.Sql / Akka's in-memory journal).</summary>
    public string Journal { get; init; } = "actornat";
    /// <summary>About ten times the largest node count; never changed while the cluster lives.</summary>
    public int Shards { get; init; } = 100;
    public int PoolBuckets { get; init; } = 16;
    public int SourceBuckets { get; init; } = 64;
    /// <summary>Messages for another node's pools, bysource buckets and reply targets go as one envelope per node (Gateway/).</summary>
    public bool NodeEnvelopes { get; init; } = true;
    /// <summary>
    /// A busy gateway sends to each node at most once per this time (a quiet one at once): 5 ms took envelopes from
    /// ~4 messages to ~23 at 3.6k new flows/s on 3 nodes (docs/PERFORMANCE.md, issue 11 round 2).
    /// </summary>
    public TimeSpan EnvelopeHold { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>
    /// Failure detection and split brain resolution: together most of a failover's time (docs/RELIABILITY.md has the
    /// measured phases). Tuned for a LAN: a member is seen unreachable about 1.5-2 s after it stops, downed
    /// <see cref="StableAfter"/> later, and its shards start elsewhere <see cref="RemovalMargin"/> after its removal.
    /// Safe, not only fast, because of the fence (<see cref="Fencing.FailoverTiming"/> holds the inequality): a node
    /// acts only while a majority answered one of its pings within a lease shorter than the earliest takeover, and a
    /// node that stood still longer than <see cref="PauseLimit"/> acknowledges nothing and shuts down. Shorter detection
    /// makes a node under a long GC or CPU stall look dead sooner: on a loaded machine that costs availability.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan AcceptableHeartbeatPause { get; init; } = TimeSpan.FromMilliseconds(1000);
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>
    /// After a member's removal, how long sharding and the coordinator singleton wait before starting its shards
    /// elsewhere (Akka's down-removal-margin; zero there would mean stable-after). The lease, not this margin, keeps the
    /// removed node from acting beside its successor.
    /// </summary>
    public TimeSpan RemovalMargin { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>
    /// Down a member at once when its remoting port refuses connections (its process is gone: a kill, a crash), instead
    /// of waiting for the failure detector (<see cref="Failover.GoneMemberDowner"/>). Turn off where a firewall between
    /// the members may REJECT with tcp-reset: a refusal then proves nothing.
    /// </summary>
    public bool DownGoneMembers { get; init; } = true;
    public TimeSpan GossipInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>
    /// A pause of the process longer than this fences the node and shuts it down (others may have replaced it by
    /// then). Zero: the acceptable heartbeat pause plus half of stable-after, below the earliest takeover
    /// (<see cref="Fencing.FailoverTiming.PauseLimit"/>).
    /// </summary>
    public TimeSpan PauseLimit { get; init; } = TimeSpan.Zero;
    /// <summary>A JSON-lines file of entity activations and fence changes (chaos checks); none by default.</summary>
    public string? ActivationLog { get; init; }
    /// <summary>
    /// TLS for remoting: this member's certificate (with its key) and the CA certificates its peers' must chain to
    /// (null: a peer must present this very certificate). Mutual: both sides of every connection authenticate.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? RemotingCertificate { get; init; }
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection? RemotingCa { get; init; }
    /// <summary>An idle conntrack entity leaves memory after this; its state stays in the journal and its pool.</summary>
    public TimeSpan PassivateIdle { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Administrative calls (configuration, listings) wait this long.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A packet's verdict is asked for at most this many times, each waiting this long.</summary>
    public int Attempts { get; init; } = 4;
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>How often sharding rebalances shards towards new nodes.</summary>
    public TimeSpan RebalanceInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How often pools check their holders' expiry.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);
    public ulong Seed { get; init; } = (ulong)Random.Shared.NextInt64();
    /// <summary>Serialize every message, also between local actors (tests: a message without a binding fails).</summary>
    public bool SerializeMessages { get; init; }
    /// <summary>No fallback serializer: a message type without a binding fails instead of going out as JSON.</summary>
    public bool StrictSerialization { get; init; } = true;
    public Akka.Event.LogLevel LogLevel { get; init; } = Akka.Event.LogLevel.WarningLevel;
}
