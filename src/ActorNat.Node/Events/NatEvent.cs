using ActorNat.Core.Net;

namespace ActorNat.Node.Events;

/// <summary>RFC 8158 natEvent values (IPFIX IE 230) of the events ActorNat reports.</summary>
public enum NatEventType : byte
{
    /// <summary>NAT44 session create.</summary>
    SessionCreate = 4,
    /// <summary>NAT44 session delete.</summary>
    SessionDelete = 5,
    /// <summary>NAT ports exhausted (one event per NAT IP per second at most, carrying the count of drops).</summary>
    PortsExhausted = 12,
}

/// <summary>
/// One NAT event. A value type: the packet path (inside the backend) fills one and hands it to a bounded queue;
/// formatting and writing happen on the event log's own task.
/// </summary>
/// <param name="Original">The ORIGINAL tuple (client → server); for ports-exhausted, a packet that found no port.</param>
/// <param name="Reply">The REPLY tuple (server → NAT IP:port); default for ports-exhausted.</param>
/// <param name="Reason">Why a session ended (a <see cref="Core.Conntrack.DestroyReason"/> name), else null.</param>
/// <param name="NatIp">The NAT IP (ports-exhausted: the IP whose ports ran out, when known).</param>
/// <param name="Count">Ports-exhausted: drops since the last event for this NAT IP.</param>
public readonly record struct NatEvent(
    NatEventType Type, DateTimeOffset Time, ulong ConntrackId, FiveTuple Original, FiveTuple Reply, string? Reason, IPv4 NatIp, long Count);

/// <summary>
/// Where backends publish NAT events (registered in DI). The in-process backend is hooked up by the node; the
/// cluster backend takes this from DI and calls it where its conntrack entities are created and stopped.
/// Cheap and non-blocking: safe to call inside an actor or under the backend's lock.
/// </summary>
public interface INatEventSink
{
    /// <summary>False when the event log is off: the caller may skip building events (metrics still count them).</summary>
    bool Enabled { get; }

    void Publish(in NatEvent e);

    /// <summary>A packet was dropped for want of a free port on <paramref name="natIp"/> (rate-limited per NAT IP).</summary>
    void PortsExhausted(in FiveTuple original, IPv4 natIp);
}
