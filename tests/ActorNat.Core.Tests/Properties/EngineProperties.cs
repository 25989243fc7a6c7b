using ActorNat.Core.Conntrack;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CsCheck;

namespace ActorNat.Core.Tests.Properties;

/// <summary>
/// Random topologies and traffic through the engine, checked after every step against the rules that must always
/// hold: unique reply tuples, ports in range, a free port kept, exhaustion creating nothing, expiry freeing exactly
/// the entries whose time ran out.
/// </summary>
public class EngineProperties
{
    /// <summary>One step of traffic: a packet of a (possibly new) flow, its answer, or time passing.</summary>
    public sealed record Step(int Kind, int Client, ushort Port, int Server, int Proto, int Seconds);

    /// <summary>A world: how many NAT addresses, an optional --to-ports range, the random flag, and the steps.</summary>
    public sealed record World(int NatAddresses, int RangeStart, int RangeSize, bool Random, ulong Seed, Step[] Steps);

    private static readonly Gen<Step> GenStep = Gen.Select(Gen.Int[0, 9], Gen.Int[0, 5], Gen.OneOf(Gen.Int[1, 8], Gen.Int[500, 520], Gen.Int[40000, 40004]),
        Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[1, 40]).Select((k, c, p, s, pr, sec) => new Step(k, c, (ushort)p, s, pr, sec));

    private static readonly Gen<World> GenWorld = Gen.Select(Gen.Int[1, 2], Gen.Int[0, 3], Gen.Int[1, 20], Gen.Bool, Gen.ULong, GenStep.Array[1, 150])
        .Select((n, rs, size, random, seed, steps) => new World(n, rs, size, random, seed, steps));

    [Fact]
    public void Invariants_hold_over_random_worlds() => GenWorld.Sample(Check, iter: 300);

    private static void Check(World w)
    {
        var clock = new ManualClock(1_000_000);
        var nat = new NatEngine(clock, new SeededRandom(w.Seed));
        nat.Apply("ip addr add 172.18.0.1/16 dev docker0");
        nat.Apply("ip addr add 10.0.2.15/24 dev eth0");
        if (w.NatAddresses == 2) nat.Apply("ip addr add 203.0.113.56/24 dev eth0");
        nat.Apply("ip route add default via 10.0.2.2");
        nat.Apply("ip route add 198.51.100.0/24 via 203.0.113.4 dev eth0 onlink");
        PortRange? toPorts = w.RangeStart == 0 ? null : new PortRange((ushort)(w.RangeStart * 10000), (ushort)(w.RangeStart * 10000 + w.RangeSize - 1));
        var flags = (toPorts is { } r ? $" --to-ports {r}" : "") + (w.Random ? " --random" : "");
        nat.Apply($"iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p udp ! -o docker0 -j MASQUERADE{flags}");
        nat.Apply($"iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE{flags}");
        nat.Apply("iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE");

        string[] servers = ["192.0.2.53", "192.0.2.80", "198.51.100.1", "198.51.100.2"];
        var flows = new List<FiveTuple>();
        foreach (var step in w.Steps)
        {
            var before = nat.Entries().ToList();
            if (step.Kind == 0)
            {
                clock.AdvanceSeconds(step.Seconds);
                var expected = before.Where(e => e.State.ExpiresMs > clock.NowMs).Select(e => e.Id).ToHashSet();
                Assert.Equal(expected, nat.Entries().Select(e => e.Id).ToHashSet());
                continue;
            }
            if (step.Kind == 1 && flows.Count > 0)
            {
                // An answer to an earlier flow: it finds its entry by the reply tuple, or (if gone) is a new flow of its own.
                var orig = flows[step.Port % flows.Count];
                var entry = before.FirstOrDefault(e => e.Original == orig);
                if (entry.Id != 0)
                {
                    var back = nat.Process(new Packet(entry.Reply, orig.Proto == Protocol.Tcp ? TcpFlags.Syn | TcpFlags.Ack : TcpFlags.None, 9));
                    Assert.Equal(orig.Invert(), back.Rewritten);
                }
                continue;
            }
            var proto = step.Proto switch { 0 => Protocol.Udp, 1 => Protocol.Tcp, _ => Protocol.Icmp };
            var src = IPv4.Parse($"172.18.0.{2 + step.Client}");
            var dst = IPv4.Parse(servers[step.Server]);
            var tuple = proto == Protocol.Icmp ? FiveTuple.Icmp(src, dst, 8, 0, step.Port) : new FiveTuple(proto, src, dst, step.Port, 53);
            bool known = before.Any(e => e.Original == tuple || e.Reply == tuple);
            var v = nat.Process(new Packet(tuple, proto == Protocol.Tcp ? TcpFlags.Syn : TcpFlags.None, 1));
            var after = nat.Entries().ToList();

            if (!known && v.Kind == VerdictKind.Drop)
            {
                Assert.Equal(DropReason.PortsExhausted, v.Reason);
                Assert.Equal(before.Select(e => e.Id).ToHashSet(), after.Select(e => e.Id).ToHashSet());
                Assert.DoesNotContain(after, e => e.Original == tuple);
            }
            if (!known && v.Kind != VerdictKind.Drop)
            {
                flows.Add(tuple);
                var e = Assert.Single(after, x => x.Original == tuple);
                bool ranged = proto != Protocol.Icmp && toPorts is not null;
                // Every port lies in its range: --to-ports, else the original port's class (ICMP: any id).
                if (e.NatPort != tuple.Key)
                {
                    var allowed = ranged ? toPorts!.Value : proto == Protocol.Icmp ? PortRange.AllIds : PortRange.ClassOf(tuple.Key);
                    Assert.True(allowed.Contains(e.NatPort), $"port {e.NatPort} outside {allowed} for {tuple}");
                }
                else if (ranged) Assert.True(toPorts!.Value.Contains(e.NatPort));
                // A free original port is kept (no --random, in range, no earlier mapping of this client port).
                bool random = w.Random && proto != Protocol.Icmp;
                bool inRange = !ranged || toPorts!.Value.Contains(tuple.Key);
                bool mapped = before.Any(b => b.Original.Proto == proto && b.Original.Src == src && b.Original.Key == tuple.Key);
                var wouldBe = PortAllocator.ReplyFor(tuple, e.NatIp, tuple.Key);
                bool free = !before.Any(b => b.Reply == wouldBe || b.Original == wouldBe);
                if (!random && inRange && !mapped && free) Assert.Equal(tuple.Key, e.NatPort);
            }
            // No reply tuple is ever held twice, nor equal to another entry's original tuple.
            var tuples = after.SelectMany(x => new[] { x.Original, x.Reply }).ToList();
            Assert.Equal(tuples.Count, tuples.Distinct().Count());
        }
    }
}
