using System.CommandLine;
using ActorNat.Node;
using Microsoft.Extensions.Hosting;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat node`: hosts one node in this process until SIGTERM/SIGINT.</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var grpc = new Option<string?>("--grpc") { Description = "Ingress endpoint HOST:PORT (NatService, health, reflection; also admin unless --admin). Default 127.0.0.1:50051; port 0 picks a free port.", HelpName = "HOST:PORT" };
        var admin = new Option<string?>("--admin") { Description = "Separate admin endpoint HOST:PORT; AdminService is then served only there.", HelpName = "HOST:PORT" };
        var adminToken = new Option<string?>("--admin-token") { Description = "Bearer token required by admin calls that change state. Required when admin listens beyond loopback.", HelpName = "TOKEN" };
        var config = new Option<string?>("--config", "-c") { Description = "File of `ip addr|route|link …` and `iptables -t nat …` lines applied at start; a bad line stops the node.", HelpName = "FILE" };
        var name = new Option<string?>("--name") { Description = "Node name shown in listings (default node1).", HelpName = "NAME" };
        var randomSeed = new Option<ulong?>("--random-seed") { Description = "Seed of the port allocator's random source (default: from the clock).", HelpName = "N" };
        var maxBatch = new Option<int?>("--max-batch") { Description = "Largest TranslateStream batch accepted (default 4096).", HelpName = "N" };
        var backend = new Option<string?>("--backend") { Description = "cluster (sharded actors with durable state: the default) or local (one in-process engine, state in memory).", HelpName = "KIND", DefaultValueFactory = _ => "cluster" };
        var remoting = new Option<string?>("--remoting") { Description = "Cluster backend: Akka remoting endpoint HOST:PORT.", HelpName = "HOST:PORT" };
        var seeds = new Option<string[]>("--seed-node") { Description = "Cluster backend: a seed node's remoting HOST:PORT (repeatable).", HelpName = "HOST:PORT", AllowMultipleArgumentsPerToken = false };
        var journal = new Option<string?>("--journal") { Description = "Journal plugin for the database: actornat (default: group commit, one transaction per tick for the whole node) or akka (Akka.Persistence.Sql / Akka's in-memory journal). Same tables either way.", HelpName = "PLUGIN" };
        var database = new Option<string?>("--database") { Description = "Cluster backend: sqlite:PATH (default sqlite:data/actornat.db, under the working directory), postgres://USER:PASS@HOST:PORT/DB, or memory (nothing durable: benchmarks).", HelpName = "URL" };
        var metrics = new Option<string?>("--metrics") { Description = "HTTP/1.1 endpoint HOST:PORT of /metrics (Prometheus), /healthz/live and /healthz/ready. Default: a free port on the --grpc host (printed as metrics=URL); off: none.", HelpName = "HOST:PORT" };
        var natEvents = new Option<string?>("--nat-events") { Description = "NAT event log (session create/delete, ports exhausted; RFC 8158): off (default), log, jsonl:PATH, or log,jsonl:PATH.", HelpName = "MODE" };
        var activationLog = new Option<string?>("--activation-log") { Description = "Cluster backend: append a JSON line per entity start/stop and fence change to FILE (for `actornat chaos`; off by default).", HelpName = "FILE" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "TLS for gRPC: the server certificate (PEM). With --tls-key the endpoints speak https (HTTP/2 over TLS). Required beyond loopback.", HelpName = "FILE" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "TLS for gRPC: the certificate's private key (PEM).", HelpName = "FILE" };
        var tlsClientCa = new Option<string?>("--tls-client-ca") { Description = "mTLS: require client certificates issued by these CA certificates (PEM).", HelpName = "FILE" };
        var packetToken = new Option<string?>("--packet-token") { Description = "Bearer token every NatService (packet path) call must carry.", HelpName = "TOKEN" };
        var remotingCert = new Option<string?>("--remoting-cert") { Description = "Cluster backend: TLS for Akka remoting, this node's certificate (PEM). Members authenticate each other (mutual TLS). Required beyond loopback.", HelpName = "FILE" };
        var remotingKey = new Option<string?>("--remoting-key") { Description = "Cluster backend: the remoting certificate's private key (PEM).", HelpName = "FILE" };
        var remotingCa = new Option<string?>("--remoting-ca") { Description = "Cluster backend: CA certificates (PEM) of the members' remoting certificates. Without it, members must present this node's own certificate.", HelpName = "FILE" };
        var allowInsecure = new Option<bool>("--allow-insecure") { Description = "Allow gRPC or remoting without TLS beyond loopback (the network encrypts and authenticates, e.g. a mesh)." };
        var shutdown = new Option<double?>("--shutdown-timeout") { Description = "Seconds SIGTERM waits for in-flight calls (default 30).", HelpName = "SECONDS" };

        var cmd = new Command("node", """
            Run one ActorNat node in this process (Kestrel, HTTP/2; TLS with --tls-cert/--tls-key) until SIGTERM or Ctrl+C.
            Settings also come from appsettings.json (section "ActorNat") and environment variables (ACTORNAT__GRPCENDPOINT, ACTORNAT__ADMINTOKEN, …); flags win.
            Prints "node NAME grpc=URL admin=URL metrics=URL dashboard=URL" once it serves (the web dashboard is on the metrics endpoint). SIGTERM stops it gracefully; a second SIGTERM exits at once.

            Example:
              actornat node --grpc 127.0.0.1:50051 --config router.conf
            """)
        {
            grpc, admin, adminToken, config, name, randomSeed, maxBatch, backend, remoting, seeds, database, journal, shutdown, metrics, natEvents, activationLog,
            tlsCert, tlsKey, tlsClientCa, packetToken, remotingCert, remotingKey, remotingCa, allowInsecure,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var o = new Dictionary<string, string?>();
            void Set(string key, string? value) { if (value is not null) o[$"{NodeOptions.Section}:{key}"] = value; }
            Set(nameof(NodeOptions.GrpcEndpoint), parse.GetValue(grpc));
            Set(nameof(NodeOptions.AdminEndpoint), parse.GetValue(admin));
            Set(nameof(NodeOptions.AdminToken), parse.GetValue(adminToken));
            Set(nameof(NodeOptions.ConfigFile), parse.GetValue(config));
            Set(nameof(NodeOptions.NodeName), parse.GetValue(name));
            Set(nameof(NodeOptions.RandomSeed), parse.GetValue(randomSeed)?.ToString());
            Set(nameof(NodeOptions.MaxBatchSize), parse.GetValue(maxBatch)?.ToString());
            Set(nameof(NodeOptions.Backend), parse.GetValue(backend));
            Set(nameof(NodeOptions.Remoting), parse.GetValue(remoting));
            Set(nameof(NodeOptions.Database), parse.GetValue(database));
            Set(nameof(NodeOptions.Journal), parse.GetValue(journal));
            Set(nameof(NodeOptions.MetricsEndpoint), parse.GetValue(metrics));
            Set(nameof(NodeOptions.NatEvents), parse.GetValue(natEvents));
            Set(nameof(NodeOptions.ActivationLog), parse.GetValue(activationLog));
            Set(nameof(NodeOptions.TlsCertificate), parse.GetValue(tlsCert));
            Set(nameof(NodeOptions.TlsKey), parse.GetValue(tlsKey));
            Set(nameof(NodeOptions.TlsClientCa), parse.GetValue(tlsClientCa));
            Set(nameof(NodeOptions.PacketToken), parse.GetValue(packetToken));
            Set(nameof(NodeOptions.RemotingCertificate), parse.GetValue(remotingCert));
            Set(nameof(NodeOptions.RemotingKey), parse.GetValue(remotingKey));
            Set(nameof(NodeOptions.RemotingCa), parse.GetValue(remotingCa));
            if (parse.GetValue(allowInsecure)) Set(nameof(NodeOptions.AllowInsecure), "true");
            if (parse.GetValue(shutdown) is { } s) Set(nameof(NodeOptions.ShutdownTimeout), TimeSpan.FromSeconds(s).ToString("c"));
            var seedList = parse.GetValue(seeds) ?? [];
            for (int i = 0; i < seedList.Length; i++) Set($"{nameof(NodeOptions.Seeds)}:{i}", seedList[i]);

            var err = parse.InvocationConfiguration.Error;
            var output = parse.InvocationConfiguration.Output;
            NatNode node;
            try
            {
                node = NatNode.Create([], o);
            }
            catch (NodeStartupException e)
            {
                await err.WriteLineAsync($"actornat node: {e.Message}");
                return 2;
            }
            await using (node)
            {
                try
                {
                    await node.StartAsync(ct);
                }
                catch (NodeStartupException e)
                {
                    await err.WriteLineAsync($"actornat node: {e.Message}");
                    return 2;
                }
                catch (IOException e)
                {
                    await err.WriteLineAsync($"actornat node: cannot listen: {e.Message}");
                    return 2;
                }
                await output.WriteLineAsync($"node {node.Options.NodeName} grpc={node.GrpcUrl} admin={node.AdminUrl}" + (node.MetricsUrl is { } m ? $" metrics={m} dashboard={node.DashboardUrl}" : ""));
                await output.FlushAsync(CancellationToken.None);
                // The host stops on SIGTERM/SIGINT by itself; ct is System.CommandLine's view of the same signals.
                try
                {
                    await node.App.WaitForShutdownAsync(ct);
                }
                catch (OperationCanceledException)
                {
                }
                await node.StopAsync(CancellationToken.None);
            }
            return 0;
        });
        return cmd;
    }
}
