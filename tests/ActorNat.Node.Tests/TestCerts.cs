using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ActorNat.Node.Tests;

/// <summary>
/// Certificates made for one test run (never committed): a CA, a server certificate for 127.0.0.1/localhost, client
/// certificates, and a second, unrelated CA with its own client certificate. Written as PEM files to a temp directory.
/// </summary>
public sealed class TestCerts : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("actornat-certs-");

    public TestCerts()
    {
        var (ca, caKey) = Authority("CN=ActorNat Test CA");
        var (other, otherKey) = Authority("CN=Someone Else's CA");
        CaPem = Write("ca.pem", ca.ExportCertificatePem());
        OtherCaPem = Write("other-ca.pem", other.ExportCertificatePem());
        (ServerCert, ServerKey) = Leaf("server", "CN=127.0.0.1", ca, caKey, server: true);
        (ClientCert, ClientKey) = Leaf("client", "CN=actornat client", ca, caKey, server: false);
        (StrangerCert, StrangerKey) = Leaf("stranger", "CN=stranger", other, otherKey, server: false);
        (Member2Cert, Member2Key) = Leaf("member2", "CN=actornat member 2", ca, caKey, server: true);
        (StrangerMemberCert, StrangerMemberKey) = Leaf("stranger-member", "CN=stranger member", other, otherKey, server: true);
    }

    public string CaPem { get; }
    public string OtherCaPem { get; }
    public string ServerCert { get; }
    public string ServerKey { get; }
    public string ClientCert { get; }
    public string ClientKey { get; }
    public string StrangerCert { get; }
    public string StrangerKey { get; }
    public string Member2Cert { get; }
    public string Member2Key { get; }
    public string StrangerMemberCert { get; }
    public string StrangerMemberKey { get; }

    private static (X509Certificate2, ECDsa) Authority(string subject)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return (req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2)), key);
    }

    private (string Cert, string Key) Leaf(string name, string subject, X509Certificate2 ca, ECDsa caKey, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        // Remoting members are both ends of connections: server and client authentication.
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") };
        if (server) usages.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        req.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(12);
        using var cert = req.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), serial);
        return (Write(name + ".pem", cert.ExportCertificatePem()), Write(name + ".key", key.ExportPkcs8PrivateKeyPem()));
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose()
    {
        try { _dir.Delete(recursive: true); } catch (IOException) { }
    }
}
