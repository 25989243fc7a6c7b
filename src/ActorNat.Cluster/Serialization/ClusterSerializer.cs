using Akka.Actor;
using Akka.Serialization;
using ActorNat.Cluster.Messages;
using Google.Protobuf;

namespace ActorNat.Cluster.Serialization;

/// <summary>
/// The one serializer of ActorNat's protocol: protobuf bytes with a short manifest that never changes once released
/// (journals keep them). Bound to <see cref="IClusterMessage"/>.
/// </summary>
public sealed class ClusterSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4711;
    public override int Identifier => SerializerId;

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(EntityPacket)] = "ep", [typeof(Expire)] = "ex", [typeof(Evict)] = "ev", [typeof(EntryGone)] = "eg", [typeof(HolderUpdateAck)] = "hua",
        [typeof(Allocate)] = "al", [typeof(AllocateBatch)] = "alb", [typeof(PoolAllocateBatch)] = "pab", [typeof(Allocated)] = "ad", [typeof(PoolPacket)] = "pp", [typeof(HolderUpdate)] = "hu",
        [typeof(Release)] = "rl", [typeof(ListEntries)] = "le", [typeof(EntryList)] = "el", [typeof(Entry)] = "en",
        [typeof(EntryFilter)] = "ef", [typeof(DestroyMasqueraded)] = "dm", [typeof(DestroyedCount)] = "dc",
        [typeof(Reserved)] = "rv", [typeof(ReservedBatch)] = "rvb", [typeof(Released)] = "rd", [typeof(Created)] = "cr", [typeof(StateChanged)] = "sc",
        [typeof(SourceMapping)] = "sm", [typeof(LookupThenAllocate)] = "lta", [typeof(RegisterSource)] = "rs",
        [typeof(UnregisterSource)] = "us", [typeof(ApplyConfig)] = "ac", [typeof(ConfigResult)] = "cfr",
        [typeof(GetConfig)] = "gc", [typeof(ConfigState)] = "cs", [typeof(ConfigLineApplied)] = "cla",
        [typeof(GetNodeStats)] = "gns", [typeof(NodeStats)] = "ns", [typeof(Counter)] = "co", [typeof(StopEntity)] = "st",
        [typeof(Messages.Tuple)] = "t", [typeof(Messages.Packet)] = "p", [typeof(Messages.ConnState)] = "s",
        [typeof(Messages.Verdict)] = "v", [typeof(Messages.NatRange)] = "r",
        [typeof(Lease)] = "ls", [typeof(LeaseRefresh)] = "lrf", [typeof(LeaseRenewed)] = "lrn", [typeof(LeaseRevoke)] = "lrv",
        [typeof(LeaseRevoked)] = "lrd", [typeof(DropLeases)] = "dl", [typeof(LeasesDropped)] = "ldd", [typeof(NodeEnvelope)] = "ne", [typeof(EnvelopeItem)] = "ei",
        [typeof(ForgetSources)] = "fs", [typeof(SourcesForgotten)] = "sfg",
    };

    private static readonly Dictionary<string, MessageParser> Parsers = new()
    {
        ["ep"] = EntityPacket.Parser, ["ex"] = Expire.Parser, ["ev"] = Evict.Parser, ["eg"] = EntryGone.Parser, ["hua"] = HolderUpdateAck.Parser,
        ["al"] = Allocate.Parser, ["alb"] = AllocateBatch.Parser, ["pab"] = PoolAllocateBatch.Parser, ["ad"] = Allocated.Parser, ["pp"] = PoolPacket.Parser, ["hu"] = HolderUpdate.Parser,
        ["rl"] = Release.Parser, ["le"] = ListEntries.Parser, ["el"] = EntryList.Parser, ["en"] = Entry.Parser,
        ["ef"] = EntryFilter.Parser, ["dm"] = DestroyMasqueraded.Parser, ["dc"] = DestroyedCount.Parser,
        ["rv"] = Reserved.Parser, ["rvb"] = ReservedBatch.Parser, ["rd"] = Released.Parser, ["cr"] = Created.Parser, ["sc"] = StateChanged.Parser,
        ["sm"] = SourceMapping.Parser, ["lta"] = LookupThenAllocate.Parser, ["rs"] = RegisterSource.Parser,
        ["us"] = UnregisterSource.Parser, ["ac"] = ApplyConfig.Parser, ["cfr"] = ConfigResult.Parser,
        ["gc"] = GetConfig.Parser, ["cs"] = ConfigState.Parser, ["cla"] = ConfigLineApplied.Parser,
        ["gns"] = GetNodeStats.Parser, ["ns"] = NodeStats.Parser, ["co"] = Counter.Parser,
        ["t"] = Messages.Tuple.Parser, ["p"] = Messages.Packet.Parser, ["s"] = Messages.ConnState.Parser,
        ["v"] = Messages.Verdict.Parser, ["r"] = Messages.NatRange.Parser,
        ["ls"] = Lease.Parser, ["lrf"] = LeaseRefresh.Parser, ["lrn"] = LeaseRenewed.Parser, ["lrv"] = LeaseRevoke.Parser,
        ["lrd"] = LeaseRevoked.Parser, ["dl"] = DropLeases.Parser, ["ldd"] = LeasesDropped.Parser, ["ne"] = NodeEnvelope.Parser, ["ei"] = EnvelopeItem.Parser,
        ["fs"] = ForgetSources.Parser, ["sfg"] = SourcesForgotten.Parser,
    };

    public static IReadOnlyCollection<Type> Types => Manifests.Keys;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"{o.GetType()} has no manifest in {nameof(ClusterSerializer)}");

    public override byte[] ToBinary(object obj) =>
        obj is IMessage m ? m.ToByteArray() : throw new ArgumentException($"{obj.GetType()} is not a protobuf message");

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest == "st") return StopEntity.Instance;
        return Parsers.TryGetValue(manifest, out var p) ? p.ParseFrom(bytes)
            : throw new System.Runtime.Serialization.SerializationException($"unknown manifest '{manifest}' in {nameof(ClusterSerializer)}");
    }
}
