using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>
/// A caller's megabyte is refused promptly and never echoed whole: grpc-message and trailers stay small, so the HTTP/2
/// connection (HPACK) survives and the next call on the same channel succeeds. Real Kestrel over HTTP/2.
/// </summary>
public class BoundedErrorTests
{
    private static readonly string Mega = new('x', 1 << 20);
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(20);

    public static TheoryData<string, string> Packets() => new()
    {
        { "idempotency_key", "packet.idempotency_key" },
        { "ingress_interface", "packet.ingress_interface" },
        { "src_address", "packet.src_address" },
    };

    [Theory]
    [MemberData(nameof(Packets))]
    public async Task A_megabyte_packet_field_is_a_prompt_invalid_argument_and_the_channel_keeps_working(string which, string field)
    {
        await using var n = await LiveNode.StartArticleAsync();
        var p = LiveNode.Udp("172.18.0.2", 40000, "192.0.2.53", 53);
        switch (which)
        {
            case "idempotency_key": p.IdempotencyKey = Mega; break;
            case "ingress_interface": p.IngressInterface = Mega; break;
            default: p.SrcAddress = Mega; break;
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = p }, deadline: DateTime.UtcNow + Prompt));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(field, e.Status.Detail);
        Assert.Contains($"({Mega.Length} characters)", e.Status.Detail);
        Assert.True(e.Status.Detail.Length < 400, $"detail of {e.Status.Detail.Length} characters");

        // The same channel (one HTTP/2 connection) serves the next call.
        var ok = await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 40001, "192.0.2.53", 53) },
            deadline: DateTime.UtcNow + Prompt);
        Assert.Equal(Wire.VerdictAction.Translate, ok.Action);
    }

    [Fact]
    public async Task A_megabyte_admin_line_is_refused_with_the_line_and_token_cut_and_the_channel_keeps_working()
    {
        await using var n = await LiveNode.StartArticleAsync();
        // A bad token of a megabyte: on main both the message and the "token" trailer carried it whole.
        var spec = "-s 172.18.0.0/16 -j " + Mega;
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await n.Admin.RuleAddAsync(new Wire.RuleRequest { Spec = spec }, n.Auth, deadline: DateTime.UtcNow + Prompt));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.True(e.Status.Detail.Length < 600, $"detail of {e.Status.Detail.Length} characters");
        Assert.All(e.Trailers.Where(t => !t.IsBinary), t => Assert.True(t.Value.Length < 300, $"trailer {t.Key} of {t.Value.Length}"));

        var lines = new Wire.ConfigLines { Lines = { "ip addr add 10.9.0.1/24 dev eth9", "iptables -t nat -A POSTROUTING -j " + Mega } };
        var le = await Assert.ThrowsAsync<RpcException>(async () =>
            await n.Admin.ApplyConfigAsync(lines, n.Auth, deadline: DateTime.UtcNow + Prompt));
        Assert.Equal(StatusCode.InvalidArgument, le.StatusCode);
        Assert.Contains("lines[1]", le.Status.Detail);
        Assert.Contains($"({lines.Lines[1].Length} characters)", le.Status.Detail);

        var rules = await n.Admin.RuleListAsync(new Wire.ListRequest(), deadline: DateTime.UtcNow + Prompt);
        Assert.Equal(2, rules.Lines.Count(l => l.StartsWith("-A POSTROUTING")));
    }

    [Fact]
    public void Cut_keeps_short_values_and_cuts_long_ones_with_their_length()
    {
        Assert.Equal("abc", FieldLimits.Cut("abc"));
        var cut = FieldLimits.Cut(new string('y', 1000));
        Assert.Equal(new string('y', 128) + "…(1000 characters)", cut);
    }
}
