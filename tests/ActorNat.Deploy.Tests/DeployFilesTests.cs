using System.Reflection;
using System.Text.RegularExpressions;
using ActorNat.Core;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Node;
using ActorNat.Node.Health;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace ActorNat.Deploy.Tests;

/// <summary>
/// Docker cannot run here, so the deploy files are checked against what the node really reads: every ACTORNAT__
/// variable names a <see cref="NodeOptions"/> property (by reflection) and its value passes the node's own validation
/// (<see cref="NatNode.Create"/>); ports agree between listeners, containers, probes, services and Prometheus; probe
/// paths are the node's; the config file path is where the config is mounted, and its lines parse.
/// </summary>
public class DeployFilesTests
{
    private static readonly string Root = FindRoot();
    private static string Deploy(string rel) => Path.Combine(Root, "deploy", rel);

    private static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Directory.Packages.props"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    // ---- YAML as plain objects (maps, lists, strings), merge keys (<<) resolved ----

    private static List<Dictionary<object, object>> LoadAll(string path)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new MergingParser(new Parser(new StringReader(File.ReadAllText(path))));
        var docs = new List<Dictionary<object, object>>();
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
            if (deserializer.Deserialize<Dictionary<object, object>?>(parser) is { } d) docs.Add(d);
        return docs;
    }

    private static Dictionary<object, object> Map(object? o, string what) => o as Dictionary<object, object> ?? throw new Xunit.Sdk.XunitException($"{what}: not a map");
    private static List<object> List(object? o, string what) => o as List<object> ?? throw new Xunit.Sdk.XunitException($"{what}: not a list");
    private static object? At(object? o, params string[] path)
    {
        foreach (var p in path) o = (o as Dictionary<object, object>)?.GetValueOrDefault(p);
        return o;
    }

    // ---- what the node reads ----

    /// <summary>Environment name → configuration key, as AddEnvironmentVariables does ("__" is ":"), checked against NodeOptions.</summary>
    private static void AssertKnownSetting(string env, string where)
    {
        Assert.True(env.StartsWith(NodeOptions.Section.ToUpperInvariant() + "__", StringComparison.Ordinal), $"{where}: {env} is not an ACTORNAT__ setting");
        var parts = env.Split("__");
        var prop = typeof(NodeOptions).GetProperty(parts[1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        Assert.True(prop is { CanWrite: true }, $"{where}: {env} names no NodeOptions property (known: {string.Join(", ", typeof(NodeOptions).GetProperties().Select(p => p.Name))})");
        if (parts.Length == 3)
        {
            Assert.True(prop!.PropertyType.IsAssignableTo(typeof(System.Collections.IList)), $"{where}: {env} indexes {prop.Name}, which is not a list");
            Assert.Matches("^[0-9]+$", parts[2]);
        }
        else Assert.Equal(2, parts.Length);
    }

    /// <summary>The settings through the node's own binder and validation (local backend: the cluster one is not in this build).</summary>
    private static NodeOptions Validate(Dictionary<string, string> env, string where)
    {
        var o = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in env) o[k.Replace("__", ":")] = v;
        o["ActorNat:Backend"] = "local"; // the node is created, not started: the config file is not read here
        try
        {
            var node = NatNode.Create([], o);
            var opts = node.Options;
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return opts;
        }
        catch (NodeStartupException e)
        {
            throw new Xunit.Sdk.XunitException($"{where}: the node refuses these settings: {e.Message}");
        }
    }

    private static int Port(string endpoint) => NatNode.ParseEndpoint(endpoint, "endpoint").Port;

    private static void AssertConfigLinesParse(string text, string where)
    {
        var engine = new NatEngine(SystemClock.Instance, new SeededRandom(1));
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            try { engine.Apply(line); n++; }
            catch (ParseException e) { throw new Xunit.Sdk.XunitException($"{where}: bad line \"{line}\": {e.Message}"); }
        }
        Assert.True(n > 0, $"{where}: no configuration lines");
    }

    // ---- Dockerfile ----

    private sealed record Dockerfile(int Stages, string User, List<int> Exposed, Dictionary<string, string> Env, string Entrypoint, List<(string From, string To)> Copies);

    private static Dockerfile ReadDockerfile()
    {
        var lines = File.ReadAllLines(Deploy("docker/Dockerfile"));
        // join continuation lines
        var joined = new List<string>();
        var cur = "";
        foreach (var l in lines)
        {
            if (l.TrimStart().StartsWith('#')) continue;
            cur += l.TrimEnd().TrimEnd('\\') + " ";
            if (!l.TrimEnd().EndsWith('\\')) { if (cur.Trim().Length > 0) joined.Add(cur.Trim()); cur = ""; }
        }
        int stages = 0; string user = "root", entry = ""; var exposed = new List<int>(); var env = new Dictionary<string, string>(); var copies = new List<(string, string)>();
        foreach (var l in joined)
        {
            var word = l.Split(' ', 2)[0].ToUpperInvariant();
            var rest = l.Length > word.Length ? l[(word.Length + 1)..] : "";
            switch (word)
            {
                case "FROM": stages++; user = "root"; break;
                case "USER": user = rest.Trim(); break;
                case "EXPOSE": exposed.AddRange(rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)); break;
                case "ENV":
                    foreach (Match m in Regex.Matches(rest, "([A-Za-z_0-9]+)=(\"[^\"]*\"|\\S+)")) env[m.Groups[1].Value] = m.Groups[2].Value.Trim('"');
                    break;
                case "ENTRYPOINT": entry = rest; break;
                case "COPY":
                    var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--")).ToList();
                    copies.Add((parts[0], parts[^1]));
                    break;
            }
        }
        return new Dockerfile(stages, user, exposed, env, entry, copies);
    }

    [Fact]
    public void Dockerfile_is_multi_stage_non_root_runs_the_node_and_exposes_its_ports()
    {
        var d = ReadDockerfile();
        Assert.True(d.Stages >= 2, "multi-stage");
        Assert.NotEqual("root", d.User);
        Assert.NotEqual("0", d.User);
        Assert.Matches("\"node\"\\s*\\]$", d.Entrypoint);
        Assert.Contains("actornat.dll", d.Entrypoint);
        foreach (var k in d.Env.Keys.Where(k => k.StartsWith("ACTORNAT__"))) AssertKnownSetting(k, "Dockerfile ENV");
        var env = d.Env.Where(kv => kv.Key.StartsWith("ACTORNAT__")).ToDictionary();
        // Listening beyond loopback, the image refuses to start without an admin token: the runner must give one.
        var refused = Assert.Throws<Xunit.Sdk.XunitException>(() => Validate(env, "Dockerfile ENV"));
        Assert.Contains("admin token", refused.Message);
        // With a token it still refuses clear-text gRPC beyond loopback: the runner gives TLS files, or says the network does it.
        var withToken = env.Append(new KeyValuePair<string, string>("ACTORNAT__ADMINTOKEN", "t")).ToDictionary();
        var clear = Assert.Throws<Xunit.Sdk.XunitException>(() => Validate(withToken, "Dockerfile ENV + token"));
        Assert.Contains("without TLS", clear.Message);
        var opts = Validate(withToken.Append(new KeyValuePair<string, string>("ACTORNAT__ALLOWINSECURE", "true")).ToDictionary(), "Dockerfile ENV + token + insecure");
        Assert.Contains(Port(opts.GrpcEndpoint), d.Exposed);
        Assert.Contains(Port(opts.MetricsEndpoint!), d.Exposed);
        Assert.Contains(Port(opts.ManagementEndpoint), d.Exposed);
        // the config file the image names is one the image contains, and it parses
        var conf = d.Copies.Single(c => c.To == opts.ConfigFile);
        AssertConfigLinesParse(File.ReadAllText(Path.Combine(Root, conf.From)), "Dockerfile " + conf.From);
        // the project it publishes exists and builds the `actornat` assembly
        var csproj = File.ReadAllText(Path.Combine(Root, "src/ActorNat.Cli/ActorNat.Cli.csproj"));
        Assert.Contains("<AssemblyName>actornat</AssemblyName>", csproj);
    }

    // ---- docker-compose.yml and prometheus.yml ----

    [Fact]
    public void Compose_runs_three_nodes_postgres_and_prometheus_with_settings_the_node_reads()
    {
        var compose = LoadAll(Deploy("docker/docker-compose.yml")).Single();
        var services = Map(compose["services"], "services");
        var nodes = services.Where(s => s.Key is string n && n.StartsWith("node")).ToDictionary(s => (string)s.Key, s => Map(s.Value, (string)s.Key));
        Assert.Equal(3, nodes.Count);
        Assert.True(services.ContainsKey("postgres"));
        Assert.True(services.ContainsKey("prometheus"));
        var docker = ReadDockerfile();
        var prometheus = LoadAll(Deploy("docker/prometheus.yml")).Single();
        var job = Map(List(prometheus["scrape_configs"], "scrape_configs").Single(), "job");
        Assert.Equal(HealthEndpoints.Metrics, (string)job["metrics_path"]);
        var targets = List(At(List(job["static_configs"], "static_configs").Single(), "targets"), "targets").Cast<string>().ToList();
        var ips = new HashSet<string>();

        foreach (var (name, svc) in nodes)
        {
            Assert.Equal("deploy/docker/Dockerfile", (string)At(svc, "build", "dockerfile")!);
            Assert.Equal("../..", (string)At(svc, "build", "context")!);
            var env = Map(svc["environment"], name + ".environment").ToDictionary(kv => (string)kv.Key, kv => (string)kv.Value);
            foreach (var k in env.Keys) AssertKnownSetting(k, $"compose {name}");
            var opts = Validate(env, $"compose {name}");
            Assert.Equal(name, opts.NodeName);
            Assert.Equal("cluster", env["ACTORNAT__BACKEND"]);
            Assert.StartsWith("postgres://", opts.Database);
            Assert.Contains("@postgres:5432/", opts.Database);

            // The container's ports are the node's listeners; Prometheus scrapes the metrics one.
            var published = List(svc["ports"], "ports").Cast<string>().Select(p => int.Parse(p.Split(':')[^1])).ToList();
            Assert.Contains(Port(opts.GrpcEndpoint), published);
            Assert.Contains(Port(opts.MetricsEndpoint!), published);
            Assert.Contains($"{name}:{Port(opts.MetricsEndpoint!)}", targets);
            Assert.All(published, p => Assert.Contains(p, docker.Exposed));

            // The config file is mounted where the node reads it, from a file that exists and parses.
            var mount = List(svc["volumes"], "volumes").Cast<string>().Select(v => v.Split(':')).Single(v => v[1] == opts.ConfigFile);
            AssertConfigLinesParse(File.ReadAllText(Path.Combine(Deploy("docker"), mount[0])), $"compose {name} {mount[0]}");

            // Seeds point at a node's remoting port on the fixed-address network; the public hostname is the node's address.
            var ip = (string)At(svc, "networks", "nat", "ipv4_address")!;
            ips.Add(ip);
            Assert.Equal(ip, opts.PublicHostname);
            Assert.All(opts.Seeds, s => Assert.Equal(Port(opts.Remoting!), Port(s)));
            Assert.True(TimeSpan.FromSeconds(int.Parse(((string)svc["stop_grace_period"]).TrimEnd('s'))) > opts.ShutdownTimeout,
                "stop_grace_period above the node's shutdown timeout");
        }
        var seeds = nodes.Values.SelectMany(n => Map(n["environment"], "env").Where(kv => ((string)kv.Key).StartsWith("ACTORNAT__SEEDS__")).Select(kv => ((string)kv.Value).Split(':')[0])).ToHashSet();
        Assert.Subset(ips, seeds);
        Assert.Equal(3, targets.Count);
        // Prometheus' own config is the file mounted into it.
        Assert.Contains(List(At(services, "prometheus", "volumes"), "prometheus.volumes").Cast<string>(), v => v.StartsWith("./prometheus.yml:/etc/prometheus/prometheus.yml"));
    }

    // ---- Kubernetes ----

    private static List<Dictionary<object, object>> K8s() =>
        Directory.GetFiles(Deploy("k8s"), "*.yaml").OrderBy(f => f).SelectMany(LoadAll).ToList();

    private static Dictionary<object, object> Kind(List<Dictionary<object, object>> docs, string kind, string? name = null) =>
        docs.Single(d => (string)d["kind"] == kind && (name is null || (string)At(d, "metadata", "name")! == name));

    [Fact]
    public void K8s_statefulset_agrees_with_the_node_services_probes_and_config_map()
    {
        var docs = K8s();
        var sts = Kind(docs, "StatefulSet");
        var spec = Map(sts["spec"], "spec");
        var pod = Map(At(spec, "template", "spec"), "pod spec");
        var container = Map(List(pod["containers"], "containers").Single(), "container");
        var headless = Kind(docs, "Service", (string)spec["serviceName"]);
        Assert.Equal("None", (string)At(headless, "spec", "clusterIP")!);
        Assert.Equal(3, int.Parse((string)spec["replicas"]));

        // Environment: every name a NodeOptions property; literal values through the node's validation.
        var env = List(container["env"], "env").Select(e => Map(e, "env item")).ToList();
        foreach (var e in env) AssertKnownSetting((string)e["name"], "k8s env");
        var literal = env.Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        var fromRefs = env.Where(e => e.ContainsKey("valueFrom")).Select(e => (string)e["name"]).ToList();
        var opts = Validate(literal.Concat([new("ACTORNAT__ADMINTOKEN", "t"), new("ACTORNAT__DATABASE", "postgres://u:p@db:5432/actornat"),
            new("ACTORNAT__PUBLICHOSTNAME", "10.0.0.1"), new("ACTORNAT__NODENAME", "actornat-0")]).ToDictionary(), "k8s env");
        Assert.Contains("ACTORNAT__ADMINTOKEN", fromRefs);
        Assert.Contains("ACTORNAT__PUBLICHOSTNAME", fromRefs);
        Assert.Equal("cluster", literal["ACTORNAT__BACKEND"]);

        // DNS discovery: the service name is the headless Service's, which selects these pods and lists them before
        // they are ready (a forming cluster is not ready); no Kubernetes API access, so no service account token.
        Assert.Equal("dns", opts.Discovery);
        var appLabel = (string)At(spec, "template", "metadata", "labels", "app")!;
        Assert.Equal((string)At(headless, "metadata", "name")!, opts.DiscoveryServiceName);
        Assert.Equal(appLabel, (string)At(headless, "spec", "selector", "app")!);
        Assert.Equal("true", (string)At(headless, "spec", "publishNotReadyAddresses")!);
        Assert.Equal("false", (string)pod["automountServiceAccountToken"]);
        Assert.DoesNotContain(docs, d => (string)d["kind"] is "Role" or "RoleBinding");

        // Ports: container ports are the node's listeners; services target them by name.
        var ports = List(container["ports"], "ports").Select(p => Map(p, "port")).ToDictionary(p => (string)p["name"], p => int.Parse((string)p["containerPort"]));
        Assert.Equal(Port(opts.GrpcEndpoint), ports["grpc"]);
        Assert.Equal(Port(opts.MetricsEndpoint!), ports["metrics"]);
        Assert.Equal(Port(opts.Remoting!), ports["remoting"]);
        // Cluster bootstrap probes the container port named "management" (ClusterFormation's port name), which is the
        // node's management endpoint; a new cluster needs all replicas found.
        Assert.Equal(Port(opts.ManagementEndpoint), ports["management"]);
        Assert.Equal(int.Parse((string)spec["replicas"]), opts.DiscoveryRequiredContactPoints);
        Assert.Empty(opts.Seeds);
        foreach (var svc in docs.Where(d => (string)d["kind"] == "Service"))
            foreach (var p in List(At(svc, "spec", "ports"), "service ports").Select(p => Map(p, "service port")))
                Assert.True(ports.ContainsKey((string)p["targetPort"]), $"service port targets {(string)p["targetPort"]}, which the container does not have");
        Assert.Equal(ports["metrics"].ToString(), (string)At(spec, "template", "metadata", "annotations", "prometheus.io/port")!);
        Assert.Equal(HealthEndpoints.Metrics, (string)At(spec, "template", "metadata", "annotations", "prometheus.io/path")!);

        // Probes: the node's paths on the metrics port.
        Assert.Equal(HealthEndpoints.Ready, (string)At(container, "readinessProbe", "httpGet", "path")!);
        Assert.Equal(HealthEndpoints.Live, (string)At(container, "livenessProbe", "httpGet", "path")!);
        Assert.Equal(HealthEndpoints.Live, (string)At(container, "startupProbe", "httpGet", "path")!);
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
            Assert.Equal("metrics", (string)At(container, probe, "httpGet", "port")!);

        // Shutdown: the grace period is above the node's own shutdown timeout (in-flight calls, then hand-off).
        Assert.True(TimeSpan.FromSeconds(int.Parse((string)pod["terminationGracePeriodSeconds"])) > opts.ShutdownTimeout);

        // Config file: mounted from the ConfigMap at its directory, under the key of its file name; the lines parse.
        var mount = List(container["volumeMounts"], "mounts").Select(m => Map(m, "mount")).Single(m => opts.ConfigFile!.StartsWith((string)m["mountPath"] + "/"));
        var volume = List(pod["volumes"], "volumes").Select(v => Map(v, "volume")).Single(v => (string)v["name"] == (string)mount["name"]);
        var cm = Kind(docs, "ConfigMap", (string)At(volume, "configMap", "name")!);
        var key = Path.GetFileName(opts.ConfigFile!);
        AssertConfigLinesParse((string)At(cm, "data", key)!, $"ConfigMap data.{key}");

        // Non-root, the image's user, and the same image as compose.
        Assert.Equal("true", (string)At(pod, "securityContext", "runAsNonRoot")!);
        var compose = LoadAll(Deploy("docker/docker-compose.yml")).Single();
        Assert.Equal((string)At(compose, "services", "node1", "image")!, (string)container["image"]);

        // PodDisruptionBudget keeps a majority of the replicas and selects these pods.
        var pdb = Kind(docs, "PodDisruptionBudget");
        Assert.True(int.Parse((string)At(pdb, "spec", "minAvailable")!) > 3 / 2);
        Assert.Equal(appLabel, (string)At(pdb, "spec", "selector", "matchLabels", "app")!);
    }

    [Fact]
    public void Docker_and_k8s_config_files_are_the_same_router()
    {
        var k8s = (string)At(Kind(K8s(), "ConfigMap"), "data", "router.conf")!;
        static IEnumerable<string> Lines(string t) => t.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#');
        Assert.Equal(Lines(File.ReadAllText(Deploy("docker/router.conf"))), Lines(k8s));
    }
}
