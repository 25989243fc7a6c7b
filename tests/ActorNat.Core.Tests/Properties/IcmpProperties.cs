using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Net;
using CsCheck;

namespace ActorNat.Core.Tests.Properties;

/// <summary>Every ICMP type and code 0-255 through the engine gives the kernel's verdict (<see cref="IcmpReference"/>).</summary>
public class IcmpProperties
{
    private static NatEngine Engine()
    {
        var e = new NatEngine(new ManualClock(1_000_000), new SeededRandom(9));
        foreach (var line in IcmpReference.Config) e.Apply(line);
        return e;
    }

    [Fact]
    public void Every_type_and_code_alone_is_tracked_or_refused_as_the_kernel_does()
    {
        var engine = Engine();
        var failures = new List<string>();
        for (int type = 0; type < 256; type++)
            for (int code = 0; code < 256; code++)
            {
                long invalid = engine.Stats.Invalid, error = engine.Stats.Error;
                var p = new Packet(FiveTuple.Icmp(IcmpReference.Client, IcmpReference.Server, (byte)type, (byte)code, (ushort)(type * 256 + code)));
                var v = engine.Process(p);
                if (IcmpReference.CheckAlone(type, code, v, engine.Stats.Invalid - invalid, engine.Stats.Error - error) is { } f) failures.Add(f);
            }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Every_error_type_and_code_about_a_nated_flow_is_related_as_the_kernel_does()
    {
        var engine = Engine();
        var failures = new List<string>();
        ushort port = 20000;
        for (int type = 0; type <= 18; type++)
        {
            if (!IcmpReference.IsErrorType(type)) continue;
            for (int code = 0; code < 256; code++)
            {
                var original = new FiveTuple(Protocol.Udp, IcmpReference.Client, IcmpReference.Server, port++, 9999);
                var sent = engine.Process(new Packet(original));
                var error = new Packet(FiveTuple.Icmp(IcmpReference.Server, sent.Rewritten.Src, (byte)type, (byte)code, 0)) { Embedded = sent.Rewritten };
                var v = engine.Process(error);
                if (IcmpReference.CheckRelated(type, code, v, sent.ConntrackId, original) is { } f) failures.Add(f);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void A_random_icmp_answer_to_a_request_is_tracked_only_when_it_is_the_request_s_reply_type() =>
        Gen.Select(Gen.Int[0, 255], Gen.Int[0, 255], Gen.Int[0, 255]).Sample((request, code, answer) =>
        {
            var engine = Engine();
            var first = engine.Process(new Packet(FiveTuple.Icmp(IcmpReference.Client, IcmpReference.Server, (byte)request, (byte)code, 77)));
            if (IcmpReference.Alone(request).Kind != VerdictKind.Translate) return;
            var reply = first.Rewritten.Invert();
            var v = engine.Process(new Packet(FiveTuple.Icmp(IcmpReference.Server, IcmpReference.NatIp, (byte)answer, (byte)code, reply.IcmpId)));
            bool isReplyType = answer == reply.IcmpType;
            Assert.Equal(isReplyType, v.Kind == VerdictKind.Translate && v.Direction == Conntrack.Direction.Reply && v.Rewritten.Dst == IcmpReference.Client);
        }, iter: 2000);
}
