using System.Diagnostics;
using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using ActorNat.Node;
using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Simulate;

/// <summary>
/// The simulator's packet path over gRPC: a live node (or any node of a cluster) decides every packet.
/// <para>
/// A live node runs on real time, not on the simulator's virtual clock. <see cref="AdvanceTo"/> therefore really waits
/// until the wall clock has moved as far as the simulated clock has: a scenario's "sleep 5" is (at least) five seconds of
/// the node's time passing, so its timeouts expire and its UDP streams form as they would in the kernel. Waits longer
/// than <see cref="MaxWait"/> are refused with an error instead of stalling. Where the node is slower than the virtual
/// clock (a packet is a gRPC round trip, simulated as 1 ms), the lag is absorbed by moving the virtual clock's anchor:
/// the node's clock then runs a little ahead (milliseconds per packet), and no later pause is shortened by it.
/// </para>
/// <para>
/// Conntrack timeouts and promote_secondaries go to the node as `sysctl -w` lines; a node that refuses them fails the run
/// with an error naming the sysctl, rather than silently running with other timeouts.
/// </para>
/// </summary>
public sealed class RemotePath : Simulator.IPacketPath
{
    /// <summary>Where the virtual clock starts (the same as <see cref="Simulator.LocalPath"/>).</summary>
    public const long StartMs = 1_000_000;

    private readonly Wire.NatService.NatServiceClient _nat;
    private readonly Wire.AdminService.AdminServiceClient _admin;
    private readonly Metadata _headers;
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly Dictionary<string, long> _baseline = [];
    private readonly List<string> _order = [];
    private long _virtualMs = StartMs;
    private TimeSpan _lag;
    private ConntrackTimeouts _timeouts = ConntrackTimeouts.Default;

    public RemotePath(Wire.NatService.NatServiceClient nat, Wire.AdminService.AdminServiceClient admin, Metadata? headers = null,
        TimeSpan? maxWait = null)
    {
        _nat = nat;
        _admin = admin;
        _headers = headers ?? new Metadata();
        MaxWait = maxWait ?? TimeSpan.FromSeconds(120);
        // The node must be empty: a scenario's output is its own table, listings and counters.
        var count = _admin.ConntrackCount(new Wire.Empty(), _headers).Count;
        var config = Config();
        int rules = config.Rules.Count(r => !r.StartsWith("-P ", StringComparison.Ordinal)); // policies are always listed
        if (count > 0 || config.Addresses.Count > 0 || config.Routes.Count > 0 || rules > 0)
            throw new InvalidOperationException(
                $"the node is not empty ({count} conntrack entries, {config.Addresses.Count} addresses, {config.Routes.Count} routes, " +
                $"{rules} rules); simulate --target needs a freshly started node");
        foreach (var (name, value) in RawStats())
        {
            _baseline[name] = value;
        }
    }

    /// <summary>The longest single wait for the node's clock that <see cref="AdvanceTo"/> accepts.</summary>
    public TimeSpan MaxWait { get; }

    /// <summary>The real time spent waiting for the node's clock so far.</summary>
    public TimeSpan Waited { get; private set; }

    /// <summary>The simulated time: where the scenario is (the node's clock is at least as far).</summary>
    public long NowMs => _virtualMs;

    public void AdvanceTo(long nowMs)
    {
        if (nowMs <= _virtualMs) return;
        var step = TimeSpan.FromMilliseconds(nowMs - _virtualMs);
        _virtualMs = nowMs;
        var due = TimeSpan.FromMilliseconds(nowMs - StartMs) + _lag;
        var now = _wall.Elapsed;
        if (now >= due)
        {
            // The node is already past this point (round trips are slower than the simulated 1 ms): the virtual clock
            // is re-anchored here, so that every later pause is still waited in full rather than eaten by this lag.
            _lag += now - due;
            return;
        }
        if (due - now > MaxWait)
            throw new InvalidOperationException(
                $"the scenario pauses {step.TotalSeconds:0.###} s at once; a live node runs on real time and --max-wait is {MaxWait.TotalSeconds:0.#} s");
        // A real wait: the node's time must pass as the scenario's does (timeouts expire on the node's clock).
        while (_wall.Elapsed < due)
        {
            var left = due - _wall.Elapsed;
            Thread.Sleep(left > TimeSpan.FromMilliseconds(2) ? left - TimeSpan.FromMilliseconds(1) : TimeSpan.Zero);
        }
        Waited += _wall.Elapsed - now;
    }

    public Verdict Process(in Packet packet)
    {
        var v = _nat.Translate(new Wire.TranslateRequest { Packet = ToWire(packet) }, _headers);
        var kind = v.Action switch
        {
            Wire.VerdictAction.Translate => VerdictKind.Translate,
            Wire.VerdictAction.NoNat => VerdictKind.NoNat,
            Wire.VerdictAction.Drop => VerdictKind.Drop,
            Wire.VerdictAction.Untracked => VerdictKind.Untracked,
            _ => throw new InvalidOperationException($"the node answered an unknown verdict action {v.Action}"),
        };
        var rewritten = v.Rewritten is null ? packet.Tuple : PacketMapper.FromApi(v.Rewritten);
        return new Verdict(kind, kind == VerdictKind.Drop ? ParseReason(v.DropReason) : DropReason.None, rewritten,
            v.Direction == Wire.PacketDirection.Reply ? Direction.Reply : Direction.Original, v.ConntrackId, v.Created)
        {
            Embedded = v.Related && v.EmbeddedRewritten is not null ? PacketMapper.FromApi(v.EmbeddedRewritten) : null,
        };
    }

    public static DropReason ParseReason(string name) => name switch
    {
        "no-route" => DropReason.NoRoute,
        "no-address" => DropReason.NoAddress,
        "ports-exhausted" => DropReason.PortsExhausted,
        "invalid" => DropReason.Invalid,
        "table-full" => DropReason.TableFull,
        "icmp-redirect-nat" => DropReason.RedirectNat,
        _ => DropReason.None,
    };

    public static Wire.PacketMeta ToWire(in Packet p)
    {
        var t = p.Tuple;
        var m = new Wire.PacketMeta
        {
            Protocol = PacketMapper.ToApi(t.Proto),
            SrcAddress = t.Src.ToString(),
            DstAddress = t.Dst.ToString(),
            PayloadLength = p.PayloadLength,
        };
        if (t.Proto == Protocol.Icmp)
        {
            m.IcmpType = t.IcmpType;
            m.IcmpCode = t.IcmpCode;
            m.IcmpId = t.IcmpId;
            if (p.Embedded is { } e) m.Embedded = PacketMapper.ToApi(e);
        }
        else
        {
            m.SrcPort = t.SPort;
            m.DstPort = t.DPort;
            if (t.Proto == Protocol.Tcp)
            {
                m.TcpFlags = (uint)p.Flags;
                m.TcpSeq = p.Seq;
            }
        }
        return m;
    }

    /// <summary>One `ip …`/`iptables …` line through AdminService.ApplyConfig; a refusal is a <see cref="ParseException"/>.</summary>
    public void Apply(string line)
    {
        try
        {
            _admin.ApplyConfig(new Wire.ConfigLines { Lines = { line } }, _headers);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            var token = e.Trailers.GetValue("token") ?? line;
            throw new ParseException($"the node refused \"{line}\": {e.Status.Detail}", token);
        }
    }

    /// <summary>
    /// The timeouts the node was given. Each one that differs is sent as `sysctl -w net.netfilter.nf_conntrack_…=N`
    /// through ApplyConfig; a node that cannot take it fails the run with an error naming the sysctl (never a silent
    /// run with the node's own timeouts).
    /// </summary>
    public ConntrackTimeouts Timeouts
    {
        get => _timeouts;
        set
        {
            var want = value.AsSysctlLines().ToList();
            var have = _timeouts.AsSysctlLines().ToList();
            for (int i = 0; i < want.Count; i++)
                if (want[i] != have[i]) Sysctl("net.netfilter." + want[i]);
            _timeouts = value;
        }
    }

    private void Sysctl(string assignment)
    {
        try
        {
            Apply("sysctl -w " + assignment);
        }
        catch (ParseException e)
        {
            throw new NotSupportedException(
                $"the node cannot take sysctl {assignment} over its API ({e.Message}); run this scenario in-process (without --target)", e);
        }
    }

    /// <summary>
    /// The node's table as `conntrack -L` lists it. The node reports remaining seconds on its own clock, which is at the
    /// simulated time (or slightly ahead); the entries are placed on the virtual clock so that the remaining seconds read
    /// at <see cref="NowMs"/> are the node's.
    /// </summary>
    public IReadOnlyList<ConntrackEntry> Entries()
    {
        var list = new List<ConntrackEntry>();
        using var call = _admin.ConntrackList(new Wire.ConntrackFilter(), _headers);
        var stream = call.ResponseStream;
        while (stream.MoveNext(CancellationToken.None).GetAwaiter().GetResult())
        {
            foreach (var m in stream.Current.Entries)
            {
                var e = PacketMapper.FromApi(m);
                e.State.ExpiresMs = _virtualMs + (long)m.TimeoutSeconds * 1000 + 500;
                if (e.Translated) e.State.Status |= ConnStatus.SrcNat;
                list.Add(e);
            }
        }
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    /// <summary>The node's `conntrack -S` counters summed over its members, as deltas since this path was opened.</summary>
    public IReadOnlyList<(string Name, long Value)> Stats() =>
        RawStats().Select(s => (s.Name, s.Value - _baseline.GetValueOrDefault(s.Name))).ToList();

    private List<(string Name, long Value)> RawStats()
    {
        var reply = _admin.ConntrackStats(new Wire.Empty(), _headers);
        var sums = new Dictionary<string, long>();
        foreach (var node in reply.Nodes)
            foreach (var c in node.Counters)
            {
                if (!_order.Contains(c.Name)) _order.Add(c.Name);
                sums[c.Name] = sums.GetValueOrDefault(c.Name) + c.Value;
            }
        return _order.Where(sums.ContainsKey).Select(n => (n, sums[n])).ToList();
    }

    public ConfigSnapshot Config() => new(
        _admin.AddressList(new Wire.ListRequest(), _headers).Lines.ToList(),
        _admin.RouteList(new Wire.ListRequest(), _headers).Lines.ToList(),
        _admin.RuleList(new Wire.ListRequest(), _headers).Lines.ToList());

    /// <summary>`conntrack -D`/`-F` through AdminService (which needs the node's token where one is set).</summary>
    public int Delete(ConntrackFilter filter)
    {
        var wire = new Wire.ConntrackFilter
        {
            SrcAddress = filter.Source?.ToString() ?? "",
            DstAddress = filter.Destination?.ToString() ?? "",
            State = filter.State?.Name() ?? "",
        };
        if (filter.Protocol is { } p) wire.Protocol = p switch
        {
            Protocol.Tcp => Wire.IpProtocol.Tcp, Protocol.Udp => Wire.IpProtocol.Udp, _ => Wire.IpProtocol.Icmp,
        };
        if (filter.SourcePort is { } sp) wire.SrcPort = sp;
        if (filter.DestinationPort is { } dp) wire.DstPort = dp;
        if (filter.Id is { } id) wire.Id = id;
        return (int)_admin.ConntrackDelete(wire, _headers).Count;
    }
}

/// <summary>`simulate --target URL`: the connection to the node and its <see cref="RemotePath"/>; null without --target.</summary>
internal sealed class RemoteTarget : IDisposable
{
    private readonly Commands.ClientContext _client;

    private RemoteTarget(Commands.ClientContext client, RemotePath path)
    {
        _client = client;
        Path = path;
    }

    public RemotePath Path { get; }

    public static RemoteTarget? Open(System.CommandLine.ParseResult parse, TimeSpan maxWait)
    {
        // Only an explicit --target makes the run remote ($ACTORNAT_TARGET alone does not turn a simulation into a live run).
        if (string.IsNullOrEmpty(parse.GetValue(Commands.GlobalOptions.Target))) return null;
        var client = new Commands.ClientContext(parse);
        try
        {
            return new RemoteTarget(client, new RemotePath(client.Nat, client.Admin, client.Headers, maxWait));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public void Dispose() => _client.Dispose();
}
