using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Discovery.Config.Hosting;
using Akka.Discovery.KubernetesApi;
using Akka.Event;
using Akka.Hosting;
using Akka.Management;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using Microsoft.AspNetCore.Connections.Features;
using Newtonsoft.Json;

namespace ActorNat.Node;

/// <summary>
/// How a cluster node finds the others. "seeds": the static list, handled by ActorNatHosting. "kubernetes" and
/// "config": the node serves Akka.Management's /bootstrap/seed-nodes on <see cref="NodeOptions.ManagementEndpoint"/>
/// and Akka's cluster bootstrap discovers the contact points (the Kubernetes API, or a fixed list), probes them, and
/// joins the cluster they report — or, when none has one and enough of them answered, the lowest address founds it.
/// </summary>
internal static class ClusterFormation
{
    public const string DefaultServiceName = "actornat";

    public static bool ByBootstrap(NodeOptions o) => o.Discovery is "kubernetes" or "config" or "dns";

    public static void Validate(NodeOptions o)
    {
        if (o.Discovery is not ("seeds" or "kubernetes" or "config" or "dns"))
            throw new NodeStartupException($"bad Discovery=\"{o.Discovery}\": expected seeds, dns, kubernetes or config");
        var management = NatNode.ParseEndpoint(o.ManagementEndpoint, "management endpoint");
        if (!ByBootstrap(o)) return;
        if (o.Discovery == "dns" && string.IsNullOrWhiteSpace(o.DiscoveryServiceName))
            throw new NodeStartupException("bad DiscoveryServiceName: required with Discovery=dns (the headless Service's DNS name, e.g. actornat-headless.default.svc.cluster.local)");
        if (o.Discovery == "kubernetes" && string.IsNullOrWhiteSpace(o.DiscoveryServiceName))
            throw new NodeStartupException("bad DiscoveryServiceName: required with Discovery=kubernetes (the pods' app label)");
        if (o.Seeds.Count > 0)
            throw new NodeStartupException($"bad Seeds: Discovery={o.Discovery} forms the cluster by bootstrap; seed nodes would bypass it (use Discovery=seeds)");
        // The others reach this node's management endpoint at the port it binds: a port picked at start is unknown to them.
        if (management.Port == 0) throw new NodeStartupException($"bad ManagementEndpoint \"{o.ManagementEndpoint}\": Discovery={o.Discovery} needs a fixed port");
        if (o.DiscoveryRequiredContactPoints < 1)
            throw new NodeStartupException($"bad DiscoveryRequiredContactPoints={o.DiscoveryRequiredContactPoints}: must be at least 1");
        if (o.Discovery == "config")
        {
            if (o.DiscoveryEndpoints.Count == 0)
                throw new NodeStartupException("bad DiscoveryEndpoints: Discovery=config needs every member's management endpoint HOST:PORT");
            foreach (var e in o.DiscoveryEndpoints)
                if (NatNode.ParseEndpoint(e, "discovery endpoint").Port == 0)
                    throw new NodeStartupException($"bad discovery endpoint \"{e}\": needs a port");
            if (o.DiscoveryRequiredContactPoints > o.DiscoveryEndpoints.Count)
                throw new NodeStartupException($"bad DiscoveryRequiredContactPoints={o.DiscoveryRequiredContactPoints}: only {o.DiscoveryEndpoints.Count} discovery endpoints are listed");
        }
    }

    /// <summary>Adds Akka.Management's settings, the discovery method and cluster bootstrap; started once the actor system is up.</summary>
    /// <param name="publicHost">The address the other members reach this node at (its management endpoint's host in their discovery).</param>
    public static void Add(AkkaConfigurationBuilder b, NodeOptions o, string publicHost, BootstrapWatch watch)
    {
        if (!ByBootstrap(o)) return;
        var bind = NatNode.ParseEndpoint(o.ManagementEndpoint, "management endpoint");
        b.WithAkkaManagement(new AkkaManagementOptions
        {
            HostName = publicHost,
            Port = bind.Port,
            BindHostName = bind.Address.ToString(),
            BindPort = bind.Port,
        });
        var service = string.IsNullOrWhiteSpace(o.DiscoveryServiceName) ? DefaultServiceName : o.DiscoveryServiceName;
        var bootstrap = new ClusterBootstrapOptions();
        bootstrap.ContactPointDiscovery.ServiceName = service;
        bootstrap.ContactPointDiscovery.RequiredContactPointsNr = o.DiscoveryRequiredContactPoints;
        if (o.Discovery == "kubernetes")
        {
            // Pod IPs, not pod DNS names (no reliance on the cluster's DNS), and the container port named "management".
            b.WithKubernetesDiscovery(new KubernetesDiscoveryOptions { PodLabelSelector = "app={0}", RawIp = true });
            bootstrap.ContactPointDiscovery.DiscoveryMethod = "kubernetes-api";
            bootstrap.ContactPointDiscovery.PortName = "management";
        }
        else if (o.Discovery == "dns")
        {
            // The headless Service's addresses, each on the management port every member binds.
            b.AddHocon(DnsServiceDiscovery.Hocon(bind.Port), HoconAddMode.Prepend);
            bootstrap.ContactPointDiscovery.DiscoveryMethod = DnsServiceDiscovery.Method;
        }
        else
        {
            b.WithConfigDiscovery(new ConfigServiceDiscoveryOptions
            {
                Services = [new Service { Name = service, Endpoints = o.DiscoveryEndpoints.ToArray() }],
            });
            bootstrap.ContactPointDiscovery.DiscoveryMethod = "config";
            // The listed endpoints carry their own ports, which differ between members on one host.
            bootstrap.ContactPoint.FilterOnFallbackPort = false;
        }
        b.WithClusterBootstrap(bootstrap, autoStart: false);
        var selfUri = new Uri($"http://{publicHost}:{bind.Port}/");
        b.AddStartup(async (system, _) =>
        {
            // Akka.Management's own HTTP server (Akka.Http.Shim over Ceen.Httpd) cannot start with the Ceen.Httpd
            // served here (0.9.10: a method it calls is gone), so Kestrel serves the bootstrap route (MapBootstrapRoute)
            // and bootstrap is told its contact point as Akka.Management would tell it when binding its routes.
            watch.Attach(system);
            var bootstrap = ClusterBootstrap.Get(system);
            bootstrap.Routes(new ManagementRouteProviderSettingsImpl(selfUri, readOnly: true));
            try
            {
                await bootstrap.Start();
                system.Log.Info("cluster bootstrap started: discovery {0}, service {1}, contact point {2}", o.Discovery, service, selfUri);
            }
            catch (Exception e)
            {
                // Not Akka's autostart, which terminates the actor system: the node keeps serving its probes, not ready.
                system.Log.Error(e, "cluster bootstrap did not start (Discovery={0}): this node will not join a cluster", o.Discovery);
            }
        });
    }

    /// <summary>Most members a contact point names (Akka.Management's max-seed-nodes-to-expose default).</summary>
    private const int MaxSeedNodesToExpose = 5;

    /// <summary>
    /// GET /bootstrap/seed-nodes on the management listener only: this member's address and the Up, WeaklyUp or
    /// Joining reachable members, in Akka.Management's JSON (its own types, its own serializer), which the other
    /// members' bootstrap probes read. 503 once this node leaves.
    /// </summary>
    public static void MapBootstrapRoute(WebApplication app)
    {
        app.MapGet("/bootstrap/seed-nodes", (HttpContext http, ActorSystem system) =>
        {
            var items = http.Features.Get<IConnectionItemsFeature>()?.Items;
            if (items is null || !items.TryGetValue(NatNode.ListenerItem, out var l) || (string?)l != "management") return Results.NotFound();
            var cluster = Akka.Cluster.Cluster.Get(system);
            // Before it joins, a node's own member reads Removed: it must still answer (no seed nodes) for the
            // lowest address to found the cluster; Removed after leaving means the cluster extension has stopped.
            var status = cluster.SelfMember.Status;
            if (status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving || (status == MemberStatus.Removed && cluster.IsTerminated))
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            var state = cluster.State;
            var members = state.Members
                .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
                .Take(MaxSeedNodesToExpose)
                .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
                .ToImmutableList();
            var json = JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(cluster.SelfMember.UniqueAddress.Address, members));
            return Results.Text(json, "application/json");
        });
    }
}
