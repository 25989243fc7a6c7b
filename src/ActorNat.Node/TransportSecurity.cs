using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ActorNat.Node;

/// <summary>
/// TLS for the gRPC endpoints (certificates from PEM files; optional client certificates: mTLS) and the rule that a
/// node reachable beyond loopback is not left open: gRPC needs TLS, cluster remoting needs TLS, unless
/// <see cref="NodeOptions.AllowInsecure"/> says the network already provides it.
/// </summary>
public sealed class TransportSecurity
{
    private TransportSecurity(X509Certificate2? server, X509Certificate2Collection? clientCa)
    {
        ServerCertificate = server;
        ClientCa = clientCa;
    }

    public X509Certificate2? ServerCertificate { get; }
    public X509Certificate2Collection? ClientCa { get; }
    public bool Tls => ServerCertificate is not null;

    public static TransportSecurity Load(NodeOptions o)
    {
        if (string.IsNullOrEmpty(o.TlsCertificate) != string.IsNullOrEmpty(o.TlsKey))
            throw new NodeStartupException("bad TLS settings: TlsCertificate (--tls-cert) and TlsKey (--tls-key) go together");
        if (string.IsNullOrEmpty(o.TlsCertificate))
        {
            if (!string.IsNullOrEmpty(o.TlsClientCa)) throw new NodeStartupException("bad TLS settings: TlsClientCa needs TlsCertificate and TlsKey");
            return new TransportSecurity(null, null);
        }
        var server = LoadPair(o.TlsCertificate!, o.TlsKey!, "TlsCertificate");
        var ca = string.IsNullOrEmpty(o.TlsClientCa) ? null : LoadCa(o.TlsClientCa!, "TlsClientCa");
        return new TransportSecurity(server, ca);
    }

    /// <summary>A certificate and its key from PEM files; a clear startup error naming the setting otherwise.</summary>
    public static X509Certificate2 LoadPair(string certPath, string keyPath, string setting)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            // Exported and re-imported: SslStream on Linux wants a key it can use as a server certificate.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new NodeStartupException($"bad {setting} \"{certPath}\" / key \"{keyPath}\": {e.Message}", e);
        }
    }

    public static X509Certificate2Collection LoadCa(string path, string setting)
    {
        try
        {
            var c = new X509Certificate2Collection();
            c.ImportFromPemFile(path);
            if (c.Count == 0) throw new NodeStartupException($"bad {setting} \"{path}\": no certificate in it");
            return c;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new NodeStartupException($"bad {setting} \"{path}\": {e.Message}", e);
        }
    }

    /// <summary>Does <paramref name="cert"/> chain to one of <paramref name="roots"/> (and nothing else)?</summary>
    public static bool ChainsTo(X509Certificate2 cert, X509Certificate2Collection roots) => ActorNat.Cluster.Hosting.RemotingTls.ChainsTo(cert, roots);

    /// <summary>Kestrel's HTTPS for a gRPC listener: HTTP/2 over TLS, and client certificates when a client CA is set.</summary>
    public void Apply(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions lo)
    {
        if (ServerCertificate is null) return;
        lo.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = ServerCertificate,
            ClientCertificateMode = ClientCa is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = ClientCa is null ? null : (cert, _, _) => ChainsTo(cert, ClientCa),
        });
    }

    /// <summary>Refuses a node whose gRPC or remoting is reachable beyond loopback in clear text (unless AllowInsecure).</summary>
    public static void CheckExposure(NodeOptions o, TransportSecurity tls, IPEndPoint grpc, IPEndPoint? admin)
    {
        if (o.AllowInsecure) return;
        foreach (var (ep, what) in new[] { (grpc, "gRPC"), (admin, "admin") })
            if (ep is not null && !IPAddress.IsLoopback(ep.Address) && !tls.Tls)
                throw new NodeStartupException(
                    $"refusing to start: {what} would listen on {ep} (beyond loopback) without TLS; set --tls-cert and --tls-key " +
                    "(ActorNat:TlsCertificate/TlsKey), bind it to 127.0.0.1, or set --allow-insecure if the network already encrypts and authenticates");
        if (o.Backend == "cluster" && o.Remoting is { Length: > 0 } r && !LoopbackHost(r[..Math.Max(0, r.LastIndexOf(':'))])
            && string.IsNullOrEmpty(o.RemotingCertificate))
            throw new NodeStartupException(
                $"refusing to start: cluster remoting would listen on {r} (beyond loopback) without TLS, so any host reaching it could join; " +
                "set --remoting-cert and --remoting-key (ActorNat:RemotingCertificate/RemotingKey), bind it to 127.0.0.1, or set --allow-insecure");
    }

    private static bool LoopbackHost(string host) =>
        host is "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>Callback for a client trusting <paramref name="roots"/> only (the CLI's --cacert).</summary>
    public static RemoteCertificateValidationCallback TrustOnly(X509Certificate2Collection roots) =>
        (_, cert, _, errors) => cert is not null && (errors & ~(SslPolicyErrors.RemoteCertificateChainErrors)) == SslPolicyErrors.None
            && ChainsTo(cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData()), roots);
}
