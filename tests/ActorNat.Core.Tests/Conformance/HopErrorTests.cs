using ActorNat.Cli.Simulate;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>The icmp-error-from-hop scenario really sends the hop's errors, and each comes back RELATED to its flow.</summary>
public class HopErrorTests
{
    private sealed class Recording(Simulator.LocalPath inner) : Simulator.IPacketPath
    {
        public readonly List<(Packet Packet, Verdict Verdict)> Seen = [];
        public void AdvanceTo(long nowMs) => inner.AdvanceTo(nowMs);
        public Verdict Process(in Packet packet)
        {
            var v = inner.Process(packet);
            Seen.Add((packet, v));
            return v;
        }
        public void Apply(string line) => inner.Apply(line);
        public ConntrackTimeouts Timeouts { get => inner.Timeouts; set => inner.Timeouts = value; }
        public IReadOnlyList<ConntrackEntry> Entries() => inner.Entries();
        public long NowMs => inner.NowMs;
        public IReadOnlyList<(string Name, long Value)> Stats() => inner.Stats();
        public ConfigSnapshot Config() => inner.Config();
        public int Delete(ConntrackFilter filter) => inner.Delete(filter);
    }

    [Fact]
    public void The_hop_s_host_unreachable_errors_are_related_and_translated_back()
    {
        var path = new Recording(new Simulator.LocalPath(1));
        new Simulator(Scenario.Load(ConformanceData.ScenarioPath("icmp-error-from-hop")), path, 1).Run();
        var errors = path.Seen.Where(s => s.Packet.Embedded is not null).ToList();
        Assert.Equal(3, errors.Count); // the UDP packet, the SYN and its retransmission
        Assert.All(errors, e =>
        {
            Assert.Equal("10.0.2.2", e.Packet.Tuple.Src.ToString());
            Assert.True(e.Verdict.Related);
            Assert.Equal(VerdictKind.Translate, e.Verdict.Kind);
            Assert.StartsWith("172.18.0.", e.Verdict.Rewritten.Dst.ToString());
            Assert.Equal(e.Verdict.Rewritten.Dst, e.Verdict.Embedded!.Value.Src);
        });
        Assert.Equal(0, path.Stats().First(s => s.Name == "error").Value);
    }
}
