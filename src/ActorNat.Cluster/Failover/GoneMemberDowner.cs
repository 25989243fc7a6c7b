using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using ActorNat.Cluster.Fencing;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Downs a member whose process is gone, in milliseconds instead of the failure detector's seconds. A killed process's
/// sockets are closed by its kernel: the survivors' associations with it fail at once, and a TCP connect to its
/// remoting port is refused (RST). Neither a paused process (its kernel still completes handshakes on the listening
/// socket) nor a cut-off one (connects time out) is refused, so they are left to the failure detector and the split
/// brain resolver as before. When an association with a member fails or it is seen unreachable, this actor connects to
/// its remoting address; <see cref="RefusalsToDown"/> refusals in a row, <see cref="ConfirmAfter"/> apart, are taken
/// as proof that no process listens there, and the member is downed if this node holds its lease on the other members'
/// answers alone (<see cref="LeaseKeeper.HeldWithout"/>: a node cut off from the majority downs nobody this way). Any
/// accepted connect ends the probe. Safety (docs/RELIABILITY.md, "Downing a gone member"): a process that is gone
/// acts for nothing, and one that still runs is never refused on its own remoting port, unless something between the
/// members forges resets (a firewall that REJECTs with tcp-reset: turn this off there) or the kernel resets
/// connections on a full accept queue (net.ipv4.tcp_abort_on_overflow = 1: then this path stays off by itself).
/// </summary>
public sealed class GoneMemberDowner : UntypedActor, IWithTimers
{
    public const int RefusalsToDown = 2;
    public static readonly TimeSpan ConfirmAfter = TimeSpan.FromMilliseconds(50);
    /// <summary>Between probes that neither were refused nor connected (a timeout: perhaps a partition).</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromMilliseconds(500);
    /// <summary>How long a member is probed after its association failed, unless a connect succeeds first.</summary>
    public static readonly TimeSpan ProbeFor = TimeSpan.FromSeconds(5);

    private readonly ActivationLog? _log;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _logger = Context.GetLogger();
    private readonly Dictionary<Address, Probing> _probing = [];
    private readonly Dictionary<Address, Member> _members = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public GoneMemberDowner(ActivationLog? log) => _log = log;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.UnreachableMember));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _cluster.Unsubscribe(Self);
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ClusterEvent.CurrentClusterState s:
                _members.Clear();
                foreach (var m in s.Members) _members[m.Address] = m;
                break;
            case ClusterEvent.MemberRemoved r:
                _members.Remove(r.Member.Address);
                _probing.Remove(r.Member.Address);
                break;
            case ClusterEvent.IMemberEvent e:
                _members[e.Member.Address] = e.Member;
                break;
            case ClusterEvent.UnreachableMember u: Suspect(u.Member.Address); break;
            case DisassociatedEvent d: Suspect(d.RemoteAddress); break;
            case AssociationErrorEvent a: Suspect(a.RemoteAddress); break;
            case ProbeNow p: Probe(p.Member); break;
            case Probed p: OnProbed(p); break;
        }
    }

    /// <summary>Only members that hold shards and are not leaving: a leaving member's process ends by design.</summary>
    private Member? Candidate(Address a) =>
        a != _cluster.SelfAddress && _members.TryGetValue(a, out var m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp ? m : null;

    private void Suspect(Address? address)
    {
        if (address is null || Candidate(address) is not { } m || _probing.ContainsKey(address)) return;
        _probing[address] = new Probing(m.UniqueAddress, DateTime.UtcNow + ProbeFor);
        Probe(address);
    }

    private void Probe(Address address)
    {
        if (!_probing.ContainsKey(address)) return;
        if (Candidate(address) is null || DateTime.UtcNow > _probing[address].Until) { _probing.Remove(address); return; }
        var self = Self;
        Connect(address.Host!, address.Port ?? 0, ConnectTimeout).PipeTo(self, success: r => new Probed(address, r), failure: _ => new Probed(address, ConnectResult.Failed));
    }

    private void OnProbed(Probed p)
    {
        if (!_probing.TryGetValue(p.Member, out var probing)) return;
        switch (p.Result)
        {
            case ConnectResult.Accepted:
                _probing.Remove(p.Member); // a process listens there (running, or paused: its kernel accepts for it)
                return;
            case ConnectResult.Refused when probing.Refusals + 1 < RefusalsToDown:
                _probing[p.Member] = probing with { Refusals = probing.Refusals + 1 };
                Timers.StartSingleTimer(("probe", p.Member), new ProbeNow(p.Member), ConfirmAfter);
                return;
            case ConnectResult.Refused:
                _probing.Remove(p.Member);
                DownIfHeld(probing.Member);
                return;
            default:
                _probing[p.Member] = probing with { Refusals = 0 };
                Timers.StartSingleTimer(("probe", p.Member), new ProbeNow(p.Member), RetryAfter);
                return;
        }
    }

    private void DownIfHeld(UniqueAddress member)
    {
        var lease = Context.ActorSelection(Self.Path.Root / "user" / LeaseKeeper.Name);
        var log = _log;
        var logger = _logger;
        var cluster = _cluster;
        var system = (ExtendedActorSystem)Context.System;
        var self = cluster.SelfAddress.HostPort();
        lease.Ask<bool>(new LeaseKeeper.HeldWithout(member.Address), TimeSpan.FromSeconds(1)).ContinueWith(t =>
        {
            bool held = t.IsCompletedSuccessfully && t.Result;
            if (!held)
            {
                logger.Info("{0} refused connections (its process is gone), but this node holds no lease without it: left to the failure detector", member.Address);
                return;
            }
            // Still the incarnation that was probed (a new one at the same address would have accepted the connect).
            if (!cluster.State.Members.Any(m => m.UniqueAddress == member && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)) return;
            log?.Event(self, "gone", member.Address.HostPort());
            logger.Warning("downing {0}: its remoting port refused {1} connects in a row, its process is gone", member.Address, RefusalsToDown);
            // Quarantined, the incarnation is marked terminated in this node's reachability as well as downed: the
            // leader removes a Down member only once it is unreachable or terminated, which the failure detector
            // would otherwise take its 1-2 s to say. The quarantine is of that incarnation (uid) only.
            if (system.Provider is IRemoteActorRefProvider remote) remote.Quarantine(member.Address, member.Uid);
            cluster.Down(member.Address);
        }, TaskScheduler.Default);
    }

    public enum ConnectResult { Accepted, Refused, TimedOut, Failed }

    /// <summary>One TCP connect: accepted, refused (RST: nothing listens there), timed out, or another error.</summary>
    public static async Task<ConnectResult> Connect(string host, int port, TimeSpan timeout)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(host, port, cts.Token);
            socket.LingerState = new LingerOption(true, 0); // gone at once; nothing was sent
            return ConnectResult.Accepted;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { return ConnectResult.Refused; }
        catch (OperationCanceledException) { return ConnectResult.TimedOut; }
        catch (SocketException) { return ConnectResult.Failed; }
    }

    /// <summary>
    /// Whether a refused connect proves anything on this host: not when the kernel resets connections on a full accept
    /// queue (net.ipv4.tcp_abort_on_overflow = 1), as a busy but live listener would then refuse too.
    /// </summary>
    public static string? WhyNot()
    {
        const string abort = "/proc/sys/net/ipv4/tcp_abort_on_overflow";
        try
        {
            if (File.Exists(abort) && File.ReadAllText(abort).Trim() != "0")
                return "net.ipv4.tcp_abort_on_overflow is set: a busy live member's kernel may refuse connects too";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private sealed record Probing(UniqueAddress Member, DateTime Until, int Refusals = 0);
    private sealed record ProbeNow(Address Member) : INoSerializationVerificationNeeded;
    private sealed record Probed(Address Member, ConnectResult Result) : INoSerializationVerificationNeeded;

    public static Props Props(ActivationLog? log) =>
        Akka.Actor.Props.Create(() => new GoneMemberDowner(log)).WithDispatcher("akka.actor.internal-dispatcher");
}
