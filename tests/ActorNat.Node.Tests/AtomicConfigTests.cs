using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>ApplyConfig is all lines or none: a refused line leaves the configuration as it was before the call.</summary>
public class AtomicConfigTests
{
    [Fact]
    public async Task A_bad_line_in_a_batch_applies_no_line_of_it()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var addrs = (await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines.ToList();
        var routes = (await n.Admin.RouteListAsync(new Wire.ListRequest())).Lines.ToList();
        var rules = (await n.Admin.RuleListAsync(new Wire.ListRequest())).Lines.ToList();

        var batch = new Wire.ConfigLines
        {
            Lines =
            {
                "ip addr add 192.168.77.1/24 dev eth7",
                "ip route add 192.168.88.0/24 via 192.168.77.254",
                "iptables -t nat -A POSTROUTING -s 10.10.0.0/16 -j MASQUERADE",
                "iptables -t nat -A POSTROUTING -s 10.11.0.0/16 -j MASQUERAD",
            },
        };
        var e = await Assert.ThrowsAsync<RpcException>(async () => await n.Admin.ApplyConfigAsync(batch, n.Auth));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("lines[3]", e.Status.Detail);
        Assert.Contains("MASQUERAD", e.Status.Detail);

        Assert.Equal(addrs, (await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines);
        Assert.Equal(routes, (await n.Admin.RouteListAsync(new Wire.ListRequest())).Lines);
        Assert.Equal(rules, (await n.Admin.RuleListAsync(new Wire.ListRequest())).Lines);

        // A line that depends on an earlier line of the same batch is fine; the whole batch then applies.
        batch.Lines.RemoveAt(3);
        await n.Admin.ApplyConfigAsync(batch, n.Auth);
        Assert.Contains((await n.Admin.RouteListAsync(new Wire.ListRequest())).Lines, l => l.StartsWith("192.168.88.0/24"));
        Assert.Equal(rules.Count + 1, (await n.Admin.RuleListAsync(new Wire.ListRequest())).Lines.Count);
    }

    [Fact]
    public async Task A_semantic_refusal_late_in_a_batch_also_applies_nothing()
    {
        await using var n = await LiveNode.StartArticleAsync();
        var addrs = (await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines.ToList();
        var batch = new Wire.ConfigLines { Lines = { "ip addr add 192.168.77.1/24 dev eth7", "ip addr del 192.168.99.1/24 dev eth7" } };
        var e = await Assert.ThrowsAsync<RpcException>(async () => await n.Admin.ApplyConfigAsync(batch, n.Auth));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("lines[1]", e.Status.Detail);
        Assert.Equal(addrs, (await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines);
    }
}
