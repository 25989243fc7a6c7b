using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Hosting;

namespace ActorNat.Cluster.Hosting;

/// <summary>
/// Akka remoting over TLS (DotNetty's SSL), mutual: every connection's two ends present a certificate, and each accepts
/// the other's only if it chains to the configured CA, or (no CA) is the cluster's shared certificate itself. A host
/// without it cannot complete a handshake, so it cannot join or send a message.
/// </summary>
public static class RemotingTls
{
    private static long _refused;

    /// <summary>Peer certificates refused by this process's remoting (all actor systems in it).</summary>
    public static long RefusedPeers => Interlocked.Read(ref _refused);

    public static RemoteOptions Options(RemoteOptions remote, ClusterNodeOptions o)
    {
        if (o.RemotingCertificate is not { } cert) return remote;
        var ca = o.RemotingCa;
        var own = cert.Thumbprint;
        remote.EnableSsl = true;
        remote.Ssl = new SslOptions
        {
            X509Certificate = cert,
            SuppressValidation = false,
            RequireMutualAuthentication = true,
            ValidateCertificateHostname = false,
            CustomValidator = (peer, _, _, _, log) =>
            {
                bool ok = peer is not null && (ca is null ? string.Equals(peer.Thumbprint, own, StringComparison.OrdinalIgnoreCase) : ChainsTo(peer, ca));
                if (!ok) Interlocked.Increment(ref _refused);
                if (!ok) log.Warning("remoting TLS: refused a peer certificate {0}", peer?.Subject ?? "(none)");
                return ok;
            },
        };
        return remote;
    }

    public static bool ChainsTo(X509Certificate2 cert, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(cert);
    }
}
