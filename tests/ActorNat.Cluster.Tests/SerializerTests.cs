using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using ActorNat.Cluster.Messages;
using ActorNat.Cluster.Serialization;
using Google.Protobuf;

namespace ActorNat.Cluster.Tests;

/// <summary>Serialization as a real node is configured (Akka.Hosting, <c>WithActorNat</c>), not as a test would wish it.</summary>
public class SerializerTests(SerializerTests.Node node) : IClassFixture<SerializerTests.Node>
{
    public sealed class Node : IAsyncLifetime
    {
        public TestCluster Cluster { get; private set; } = null!;
        public ActorSystem System => Cluster.Nodes[0].System;
        public async Task InitializeAsync() => Cluster = await TestCluster.Start(1);
        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    private static readonly Messages.Tuple T = new() { Proto = 6, Src = 0xAC120002, Dst = 0xC0000250, Sport = 38001, Dport = 80 };

    /// <summary>One populated instance of every message the serializer knows.</summary>
    public static IEnumerable<object[]> Samples()
    {
        var state = new Messages.ConnState { Proto = 6, Tcp = 3, Status = 3, CreatedMs = 5, ExpiresMs = 432_000_005, OrigSeqEnd = 101 };
        var packet = new Messages.Packet { Tuple = T, TcpFlags = 0x12, Seq = 7, PayloadLength = 3 };
        var range = new Messages.NatRange { MinIp = 1, MaxIp = 2, HasPorts = true, MinPort = 55666, MaxPort = 55680, Random = true };
        var mapping = new SourceMapping { Ip = 0x0A00020F, Port = 61529, ConntrackId = 9 };
        var alloc = new Allocate { Pool = "6/10.0.2.15/3", Original = T, Range = range, TcpSyn = true, SynSeqEnd = 8, State = state, ConntrackId = 9, MasqueradeInterface = "eth0", Phase = 1 };
        alloc.Candidates.Add(mapping);
        var entry = new Entry { Id = 9, Original = T, Reply = T, State = state, MasqueradeInterface = "eth0", Node = "127.0.0.1:1" };
        var list = new EntryList { NowMs = 77 };
        list.Entries.Add(entry);
        var filter = new EntryFilter { Proto = 6, Src = 1, Dport = 80, State = 3, Id = 9 };
        var cfg = new ConfigState { Version = 2 };
        cfg.Lines.Add("ip addr add 10.0.2.15/24 dev eth0");
        var stats = new NodeStats { Node = "n" };
        stats.Counters.Add(new Counter { Name = "found", Value = 3 });
        var item = new EnvelopeItem { Sender = 1, Target = 0, Manifest = "pab", Payload = new PoolAllocateBatch { Pool = "17/10.0.2.15/1", Allocations = { alloc } }.ToByteString() };
        var envelope = new NodeEnvelope { Refs = { "akka.tcp://actornat@127.0.0.1:1/temp/a" }, Items = { item, new EnvelopeItem { Target = 1, Manifest = "v", Payload = new Messages.Verdict { RequestId = 3 }.ToByteString() } } };
        object[] all =
        [
            new EntityPacket { Original = T, Direction = 1, Packet = packet }, new Expire { Original = T }, new Evict { Original = T, Reason = 2 }, new Evict { Original = T, Reason = 2, ConntrackId = 9, Ack = true },
            new EntryGone { Original = T }, alloc, new Allocated { Ok = true, Ip = 5, Port = 6, Kind = 3, Collisions = 2 },
            new PoolPacket { Pool = "p", Packet = packet }, new HolderUpdate { Pool = "p", Reply = T, State = state, Seq = 3, ConntrackId = 9 },
            new HolderUpdateAck { Reply = T, Seq = 3, Held = true },
            new Release { Pool = "p", Reply = T, ConntrackId = 9, Reason = 1 }, new ListEntries { Pool = "p", Filter = filter, Delete = true },
            list, entry, filter, new DestroyMasqueraded { Pool = "p", Interface = "eth0", Ip = 7 }, new DestroyedCount { Count = 4 },
            new Reserved { Original = T, Reply = T, State = state, ConntrackId = 9, MasqueradeInterface = "eth0" }, new Released { Reply = T },
            new ReservedBatch { Reserved = { new Reserved { Original = T, Reply = T, State = state, ConntrackId = 9 }, new Reserved { Original = T, Reply = T, ConntrackId = 10 } } },
            new Created { ConntrackId = 9, Original = T, Reply = T, State = state, MasqueradeInterface = "eth0", Pool = "p" },
            new StateChanged { State = state }, mapping, new LookupThenAllocate { Bucket = "s1", Allocate = alloc },
            new AllocateBatch { Bucket = "s2", Allocations = { alloc, new Allocate { Original = T, AnswerVerdict = true, RequestId = 3, Packet = new Packet { Tuple = T, TcpFlags = 2 } } } },
            new PoolAllocateBatch { Pool = "17/10.0.2.15/1", Allocations = { alloc } },
            new RegisterSource { Bucket = "s1", Proto = 6, Client = 1, ClientPort = 2, Mapping = mapping },
            new UnregisterSource { Bucket = "s1", Proto = 6, Client = 1, ClientPort = 2, ConntrackId = 9 },
            new ForgetSources { Bucket = "s1", Connections = { new UnregisterSource { Bucket = "s1", Proto = 17, Client = 1, ClientPort = 2, ConntrackId = 9 } } },
            new SourcesForgotten { Count = 1 },
            new ApplyConfig { Line = "iptables -t nat -F" }, new ConfigResult { Ok = false, Error = "bad", Token = "x", Version = 3 },
            new GetConfig(), cfg, new ConfigLineApplied { Line = "ip route add default via 10.0.2.2" }, new GetNodeStats(), stats,
            new Counter { Name = "drop", Value = 1 }, StopEntity.Instance, T, packet, state,
            new Messages.Verdict { Kind = 0, Rewritten = T, Direction = 1, ConntrackId = 9, Created = true }, range,
            new Lease { Original = T, Reply = T, State = state, ConntrackId = 9, Epoch = 4 },
            new Messages.Verdict { Kind = 0, Rewritten = T, ConntrackId = 9, Lease = new Lease { Original = T, Reply = T, State = state, ConntrackId = 9, Epoch = 4 } },
            new LeaseRefresh { Original = T, ConntrackId = 9, Epoch = 4, State = state }, new LeaseRenewed { Original = T, ConntrackId = 9, Epoch = 4, ExpiresMs = 99 },
            new LeaseRevoke { Original = T, ConntrackId = 9, Epoch = 4 }, new LeaseRevoked { Original = T, ConntrackId = 9, Epoch = 4, State = state },
            new DropLeases(), new LeasesDropped { Count = 2 },
            item, envelope,
        ];
        return all.Select(m => new[] { m });
    }

    [Fact]
    public void Every_message_type_has_a_sample() =>
        Assert.Equal(ClusterSerializer.Types.OrderBy(t => t.Name), Samples().Select(s => s[0].GetType()).Distinct().OrderBy(t => t.Name));

    [Fact]
    public void Every_protobuf_message_of_the_protocol_is_bound()
    {
        var protocol = typeof(IClusterMessage).Assembly.GetTypes()
            .Where(t => typeof(IMessage).IsAssignableFrom(t) && t.Namespace == typeof(IClusterMessage).Namespace).ToList();
        Assert.NotEmpty(protocol);
        foreach (var t in protocol)
        {
            Assert.True(typeof(IClusterMessage).IsAssignableFrom(t), $"{t.Name} lacks the IClusterMessage marker");
            Assert.Contains(t, ClusterSerializer.Types);
        }
        // What never leaves its node says so, or serialize-messages would try it.
        Assert.True(typeof(Akka.Actor.INoSerializationVerificationNeeded).IsAssignableFrom(typeof(Tick)));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Round_trips_through_the_bound_serializer(object message)
    {
        var serialization = node.System.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<ClusterSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        Assert.InRange(manifest.Length, 1, 3); // short, stable manifests
        var bytes = serializer.ToBinary(message);
        var back = serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(message, back);
        if (message is IMessage m) Assert.Equal(m.ToByteArray(), ((IMessage)back).ToByteArray());
    }
}
