using Akka.Actor;

namespace ActorNat.Cluster.Messages;

/// <summary>Every message bound to <see cref="Serialization.ClusterSerializer"/>: one marker for the whole protocol.</summary>
public interface IClusterMessage;

/// <summary>To a conntrack entity; the entity id is the symmetric key of the connection's ORIGINAL tuple.</summary>
public interface IConntrackMessage : IClusterMessage
{
    Tuple Original { get; }
}

/// <summary>To a port pool; the entity id is its key (protocol / NAT address / server bucket).</summary>
public interface IPoolMessage : IClusterMessage
{
    string Pool { get; }
}

/// <summary>To a bysource index bucket.</summary>
public interface ISourceMessage : IClusterMessage
{
    string Bucket { get; }
}

/// <summary>To the configuration entity.</summary>
public interface IConfigMessage : IClusterMessage;

public sealed partial class EntityPacket : IConntrackMessage;
public sealed partial class Expire : IConntrackMessage;
public sealed partial class Evict : IConntrackMessage;
public sealed partial class EntryGone : IClusterMessage;
public sealed partial class HolderUpdateAck : IClusterMessage;
public sealed partial class LeaseRefresh : IConntrackMessage;
public sealed partial class LeaseRevoked : IConntrackMessage;

// To a node's flow cache (Ingress/FlowCacheActor), by its path on that node.
public sealed partial class Lease : IClusterMessage;
public sealed partial class LeaseRenewed : IClusterMessage;
public sealed partial class LeaseRevoke : IClusterMessage;
public sealed partial class DropLeases : IClusterMessage;
public sealed partial class LeasesDropped : IClusterMessage;

public sealed partial class Allocate : IPoolMessage;
public sealed partial class PoolAllocateBatch : IPoolMessage;
public sealed partial class PoolPacket : IPoolMessage;
public sealed partial class HolderUpdate : IPoolMessage;
public sealed partial class Release : IPoolMessage;
public sealed partial class ListEntries : IPoolMessage;
public sealed partial class DestroyMasqueraded : IPoolMessage;

public sealed partial class LookupThenAllocate : ISourceMessage;
public sealed partial class AllocateBatch : ISourceMessage;
public sealed partial class RegisterSource : ISourceMessage;
public sealed partial class UnregisterSource : ISourceMessage;
public sealed partial class ForgetSources : ISourceMessage;
public sealed partial class SourcesForgotten : IClusterMessage;

public sealed partial class ApplyConfig : IConfigMessage;
public sealed partial class GetConfig : IConfigMessage;

public sealed partial class Tuple : IClusterMessage;
public sealed partial class Packet : IClusterMessage;
public sealed partial class ConnState : IClusterMessage;
public sealed partial class Verdict : IClusterMessage;
public sealed partial class NatRange : IClusterMessage;
public sealed partial class Allocated : IClusterMessage;
public sealed partial class EntryFilter : IClusterMessage;
public sealed partial class Entry : IClusterMessage;
public sealed partial class EntryList : IClusterMessage;
public sealed partial class DestroyedCount : IClusterMessage;
public sealed partial class Reserved : IClusterMessage;
public sealed partial class ReservedBatch : IClusterMessage;
public sealed partial class Released : IClusterMessage;
public sealed partial class Created : IClusterMessage;
public sealed partial class StateChanged : IClusterMessage;
public sealed partial class SourceMapping : IClusterMessage;
public sealed partial class ConfigResult : IClusterMessage;
public sealed partial class ConfigState : IClusterMessage;
public sealed partial class ConfigLineApplied : IClusterMessage;
public sealed partial class GetNodeStats : IClusterMessage;
public sealed partial class NodeStats : IClusterMessage;
public sealed partial class Counter : IClusterMessage;
public sealed partial class NodeEnvelope : IClusterMessage;
public sealed partial class EnvelopeItem : IClusterMessage;

public sealed partial class StopEntity : IClusterMessage
{
    public static readonly StopEntity Instance = new();
}

/// <summary>Timer ticks an actor sends itself: never leave the node, so never serialized.</summary>
public sealed class Tick : INoSerializationVerificationNeeded
{
    public static readonly Tick Instance = new();
}
