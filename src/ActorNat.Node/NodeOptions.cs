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

    /// <summary>
    /// TLS for gRPC (ingress and admin endpoints): the server certificate, a PEM file (the chain may follow it).
    /// With <see cref="TlsKey"/>; the endpoints then speak HTTP/2 over TLS (https://).
    /// </summary>
    public string? TlsCertificate { get; set; }

    /// <summary>The PEM private key of <see cref="TlsCertificate"/>.</summary>
    public string? TlsKey { get; set; }

    /// <summary>mTLS: a PEM file of the CA certificates that issue client certificates; a client without one that chains to them is refused in the handshake.</summary>
    public string? TlsClientCa { get; set; }

    /// <summary>Bearer token that NatService (the packet path) calls must carry. Unset: none needed.</summary>
    public string? PacketToken { get; set; }

    /// <summary>
    /// TLS for Akka remoting (cluster backend): this node's certificate (PEM) and key. Peers authenticate each other
    /// (mutual TLS): a peer's certificate must chain to <see cref="RemotingCa"/>, or, without it, be this very
    /// certificate (one cluster certificate shared by the members). A host without it cannot join.
    /// </summary>
    public string? RemotingCertificate { get; set; }

    /// <summary>The PEM private key of <see cref="RemotingCertificate"/>.</summary>
    public string? RemotingKey { get; set; }

    /// <summary>PEM CA certificates that issue the members' remoting certificates (optional; see <see cref="RemotingCertificate"/>).</summary>
    public string? RemotingCa { get; set; }

    /// <summary>
    /// Allow gRPC without TLS, or remoting without TLS, on addresses beyond loopback (e.g. behind a mesh that encrypts
    /// and authenticates). Without it such a node refuses to start.
    /// </summary>
    public bool AllowInsecure { get; set; }

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

    /// <summary>
    /// Where /metrics (Prometheus) and the HTTP probes /healthz/live and /healthz/ready listen, over HTTP/1.1:
    /// "host:port" ("*:9464" for all interfaces; port 0 picks a free one). Unset: a free port on the gRPC endpoint's host.
    /// (The gRPC endpoint speaks HTTP/2 without TLS, which cannot share a port with HTTP/1.1; /metrics is served there
    /// too, for HTTP/2 clients.) "off": no HTTP/1 endpoint.
    /// </summary>
    public string? MetricsEndpoint { get; set; }

    /// <summary>NAT event log (RFC 8158 session create/delete, ports exhausted): "off" (default), "log", "jsonl:PATH", or "log,jsonl:PATH".</summary>
    public string NatEvents { get; set; } = "off";

    /// <summary>Cluster backend: a JSON-lines file of entity activations and fence changes (`actornat chaos` checks it).</summary>
    public string? ActivationLog { get; set; }

    /// <summary>
    /// Cluster backend, failure detection (unset: the defaults of <c>ClusterNodeOptions</c>, 200 ms / 1 s / 0.5 s,
    /// which a shared, loaded host tolerates): how often members exchange heartbeats, how long a silence is tolerated
    /// before a member is unreachable, and how long the split brain resolver waits for a stable view before downing.
    /// Shorter means a faster failover and a node that fences itself after a shorter stall (the pause fence is derived
    /// from these). On a LAN with dedicated cores 200 ms / 0.6 s / 0.4 s (lease 0.5 s) detects a stopped node ~0.5 s sooner (docs/RELIABILITY.md; on this shared 2-core machine that lease lapsed under load). Every node of one
    /// cluster must use the same values.
    /// </summary>
    public TimeSpan? HeartbeatInterval { get; set; }
    public TimeSpan? AcceptableHeartbeatPause { get; set; }
    public TimeSpan? StableAfter { get; set; }

    /// <summary>
    /// Cluster backend: down a member at once when its remoting port refuses connections (a killed process), instead of
    /// after the failure detector (default true). Set false where a firewall between members REJECTs with tcp-reset.
    /// </summary>
    public bool DownGoneMembers { get; set; } = true;

    // ---- Cluster settings (the cluster backend, src/ActorNat.Cluster). ----

    /// <summary>Akka remoting endpoint "host:port" (cluster backend only).</summary>
    public string? Remoting { get; set; }

    /// <summary>The address other members reach this node's remoting at (a pod IP, a compose service address); default: the remoting host (cluster backend only).</summary>
    public string? PublicHostname { get; set; }

    /// <summary>Seed nodes as "host:port" remoting endpoints (cluster backend only).</summary>
    public List<string> Seeds { get; set; } = [];

    /// <summary>Durable state: "sqlite:PATH" (default) or "postgres://user:pass@host:port/db" (cluster backend only).</summary>
    public string Database { get; set; } = "sqlite:data/actornat.db";

    /// <summary>
    /// Which journal plugin writes the database: "actornat" (default: ActorNat's group-commit journal, one transaction
    /// per writer tick for the whole node) or "akka" (Akka.Persistence.Sql, or Akka's in-memory journal). Both use the
    /// same tables, so a database written by one replays through the other (cluster backend only; ACTORNAT__JOURNAL).
    /// </summary>
    public string Journal { get; set; } = "actornat";

    /// <summary>
    /// How the cluster finds its members: "seeds" (the <see cref="Seeds"/> list; none: this node founds the cluster),
    /// or Akka.Management's cluster bootstrap with "dns" (the addresses of the DNS name <see cref="DiscoveryServiceName"/>,
    /// a Kubernetes headless Service: the way that works with the packages served here), "kubernetes" (Akka.Discovery.KubernetesApi: pods labelled
    /// app=<see cref="DiscoveryServiceName"/> in this pod's namespace, their port named "management") or "config"
    /// (the fixed list <see cref="DiscoveryEndpoints"/>). With bootstrap the members probe each other's management
    /// endpoints and the lowest address founds the cluster once <see cref="DiscoveryRequiredContactPoints"/> answer.
    /// </summary>
    public string Discovery { get; set; } = "seeds";

    /// <summary>Bootstrap: the service looked up (dns: the headless Service's DNS name; kubernetes: the pods' "app" label). Required with dns and kubernetes; default "actornat".</summary>
    public string? DiscoveryServiceName { get; set; }

    /// <summary>Discovery=config: every member's management endpoint "host:port" (this node's own among them).</summary>
    public List<string> DiscoveryEndpoints { get; set; } = [];

    /// <summary>Bootstrap: how many contact points must be found before a new cluster may be formed (Akka's required-contact-point-nr; ideally the replica count).</summary>
    public int DiscoveryRequiredContactPoints { get; set; } = 2;

    /// <summary>Akka.Management HTTP endpoint "host:port" (cluster bootstrap: /bootstrap/seed-nodes; default *:8558). Served only with Discovery=dns, kubernetes or config.</summary>
    public string ManagementEndpoint { get; set; } = "*:8558";

    /// <summary>"local" (one in-process engine, state in memory) or "cluster" (sharded actors, durable state; what `actornat node` runs).</summary>
    public string Backend { get; set; } = "local";
}
