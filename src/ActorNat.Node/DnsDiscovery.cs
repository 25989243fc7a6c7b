using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Discovery;

namespace ActorNat.Node;

/// <summary>
/// Akka.Discovery over DNS A/AAAA records: the members of a Kubernetes headless Service are its DNS name's addresses
/// (with publishNotReadyAddresses, also pods not yet ready, which a forming cluster needs). Every member serves its
/// management endpoint on the same port, so each address is one contact point on that port. Cluster bootstrap probes
/// them and joins the cluster they report, or, when none has one, the lowest address founds it. Works with the
/// packages served here (Akka.Discovery.KubernetesApi 1.5.73 needs a KubernetesClient that is not), and needs no
/// Kubernetes API access (no service account, no RBAC).
/// </summary>
public sealed class DnsServiceDiscovery(ExtendedActorSystem system) : ServiceDiscovery
{
    public const string Method = "actornat-dns";

    /// <summary>
    /// How a name is resolved: the system resolver unless replaced (tests stand in a name for several loopback
    /// addresses; there is no DNS server of our own here).
    /// </summary>
    public static Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; set; } = (name, ct) => Dns.GetHostAddressesAsync(name, ct);

    /// <summary>The discovery method's configuration: this class, and the management port every member uses.</summary>
    public static string Hocon(int managementPort) => $$"""
        akka.discovery.{{Method}} {
          class = "{{typeof(DnsServiceDiscovery).FullName}}, {{typeof(DnsServiceDiscovery).Assembly.GetName().Name}}"
          port = {{managementPort}}
        }
        """;

    private readonly int _port = system.Settings.Config.GetInt($"akka.discovery.{Method}.port", 8558);

    public override async Task<Resolved> Lookup(Lookup lookup, TimeSpan resolveTimeout)
    {
        using var cts = new CancellationTokenSource(resolveTimeout);
        IPAddress[] addresses;
        try
        {
            addresses = await Resolve(lookup.ServiceName, cts.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
        {
            addresses = []; // no member published yet: bootstrap asks again
        }
        // In a stable order (bootstrap's lowest-address rule reads it as given by the contact points it probes).
        var targets = addresses.Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            .Distinct().OrderBy(a => a.AddressFamily).ThenBy(a => a.GetAddressBytes(), ByteOrder.Instance)
            .Select(a => new ResolvedTarget(a.ToString(), _port, a)).ToImmutableList();
        return new Resolved(lookup.ServiceName, targets);
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y)
        {
            for (int i = 0; i < Math.Min(x!.Length, y!.Length); i++)
                if (x[i] != y[i]) return x[i].CompareTo(y[i]);
            return x.Length.CompareTo(y.Length);
        }
    }
}
