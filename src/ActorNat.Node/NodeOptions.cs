namespace ActorNat.Node;

/// <summary>
/// A node's settings: section "ActorNat" of appsettings.json, environment variables ACTORNAT_* (e.g.
/// ACTORNAT_GrpcEndpoint), and the flags of `actornat node`, each overriding the one before.
/// </summary>
public sealed class NodeOptions
{
    public const string Section = "ActorNat";

    /// <summary>Where the packet path (NatService), health and reflection listen: "host:port" or "http://host:port". Port 0 picks a free one.</summary>
    public string GrpcEndpoint { get; set; } = "127.0.0.1:50051";

    /// <summary>
    /// A separate endpoint for AdminService. Unset: admin is served on <see cref="GrpcEndpoint"/>. When set, admin is
    /// served only there.
    /// </summary>
    public string? AdminEndpoint { get; set; }

    /// <summary>The bearer token that changing admin calls must carry. Required when admin listens beyond loopback.</summary>
    public string? AdminToken { get; set; }

    /// <summary>A file of `ip …` and `iptables …` lines applied in order at start ('#' starts a comment). A bad line stops the node.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>This node's name in listings and cluster status.</summary>
    public string NodeName { get; set; } = "node1";

    /// <summary>Seed of the port allocator's random source (0: from the clock). Fixed seeds give repeatable allocations.</summary>
    public ulong RandomSeed { get; set; }

    /// <summary>The largest batch a TranslateStream message may carry.</summary>
    public int MaxBatchSize { get; set; } = 4096;

    /// <summary>Conntrack entries per page of a ConntrackList stream.</summary>
    public int ListPageSize { get; set; } = 1000;

    /// <summary>How long SIGTERM waits for in-flight calls (and, with the cluster backend, hand-off) before exit.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    // ---- Cluster settings: accepted and validated now, used once the cluster backend (src/ActorNat.Cluster) lands. ----

    /// <summary>Akka remoting endpoint "host:port" (cluster backend only).</summary>
    public string? Remoting { get; set; }

    /// <summary>Seed nodes as "host:port" remoting endpoints (cluster backend only).</summary>
    public List<string> Seeds { get; set; } = [];

    /// <summary>Durable state: "sqlite:PATH" (default) or "postgres://user:pass@host:port/db" (cluster backend only).</summary>
    public string Database { get; set; } = "sqlite:actornat.db";

    /// <summary>"local" (one in-process engine, state in memory) or "cluster" (not yet available).</summary>
    public string Backend { get; set; } = "local";
}
