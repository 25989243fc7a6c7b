using Grpc.Core;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

public class AdminAuthTests
{
    [Fact]
    public async Task Changing_admin_calls_need_the_token_reading_ones_do_not()
    {
        await using var n = await LiveNode.StartAsync();
        var add = new Wire.AddressRequest { Spec = "172.18.0.1/16 dev docker0" };

        var none = await Assert.ThrowsAsync<RpcException>(async () => await n.Admin.AddressAddAsync(add));
        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
            await n.Admin.AddressAddAsync(add, new Metadata { { "authorization", "Bearer nope" } }));
        Assert.Equal(StatusCode.PermissionDenied, wrong.StatusCode);
        foreach (var call in new Func<Task>[]
                 {
                     async () => await n.Admin.RuleAddAsync(new Wire.RuleRequest { Spec = "-j MASQUERADE" }),
                     async () => await n.Admin.RouteAddAsync(new Wire.RouteRequest { Spec = "default via 10.0.2.2" }),
                     async () => await n.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { "ip link set eth0 up" } }),
                     async () => await n.Admin.ConntrackFlushAsync(new Wire.Empty()),
                     async () => await n.Admin.ConntrackDeleteAsync(new Wire.ConntrackFilter()),
                 })
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(call)).StatusCode);
        Assert.Empty((await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines);

        await n.Admin.AddressAddAsync(add, n.Auth);
        Assert.Single((await n.Admin.AddressListAsync(new Wire.ListRequest())).Lines);
        Assert.Equal(0ul, await n.CountAsync());
    }

    [Fact]
    public async Task Separate_admin_endpoint_serves_admin_only_there()
    {
        await using var n = await LiveNode.StartAsync(new() { ["ActorNat:AdminEndpoint"] = "127.0.0.1:0" });
        Assert.NotEqual(n.Node.GrpcUrl, n.Node.AdminUrl);
        await n.Admin.AddressAddAsync(new Wire.AddressRequest { Spec = "172.18.0.1/16 dev docker0" }, n.Auth);

        var onIngress = new Wire.AdminService.AdminServiceClient(n.Channel);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await onIngress.AddressListAsync(new Wire.ListRequest()));
        Assert.Equal(StatusCode.Unimplemented, e.StatusCode);
    }

    [Theory]
    [InlineData("0.0.0.0:0", null)]
    [InlineData("127.0.0.1:0", "0.0.0.0:0")]
    [InlineData("*:0", null)]
    public void Node_refuses_to_expose_admin_beyond_loopback_without_a_token(string grpc, string? admin)
    {
        var e = Assert.Throws<NodeStartupException>(() => NatNode.Create([], new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = grpc,
            ["ActorNat:AdminEndpoint"] = admin,
        }, configureLogging: l => l.ClearProviders()));
        Assert.Contains("without an admin token", e.Message);
    }

    [Theory]
    [InlineData("ActorNat:GrpcEndpoint", "127.0.0.1:70000", "grpc endpoint")]
    [InlineData("ActorNat:Database", "mysql://x", "Database")]
    [InlineData("ActorNat:Seeds:0", "nohost", "seed node")]
    [InlineData("ActorNat:Backend", "mesh", "expected local or cluster")]
    public void Unusable_settings_stop_the_node_with_a_clear_message(string key, string value, string expected)
    {
        var e = Assert.Throws<NodeStartupException>(() => NatNode.Create([], new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            [key] = value,
        }, configureLogging: l => l.ClearProviders()));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("mdns", "", "", "expected seeds, dns, kubernetes or config")]
    [InlineData("kubernetes", "", "", "DiscoveryServiceName: required")]
    [InlineData("config", "", "", "DiscoveryEndpoints")]
    [InlineData("config", "127.0.0.1:8558", "127.0.0.1:0", "needs a fixed port")]
    [InlineData("config", "127.0.0.1:0", "127.0.0.1:8558", "needs a port")]
    [InlineData("config", "127.0.0.1:8558,127.0.0.1:8559", "127.0.0.1:8558", "")] // valid: two endpoints, two required
    public async Task Bootstrap_settings_are_checked_before_the_node_starts(string discovery, string endpoints, string management, string expected)
    {
        var o = new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:Discovery"] = discovery,
        };
        if (management.Length > 0) o["ActorNat:ManagementEndpoint"] = management;
        var list = endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < list.Length; i++) o[$"ActorNat:DiscoveryEndpoints:{i}"] = list[i];
        if (expected.Length == 0)
        {
            await NatNode.Create([], o, configureLogging: l => l.ClearProviders()).DisposeAsync();
            o["ActorNat:Seeds:0"] = "127.0.0.1:4053"; // seeds would bypass bootstrap
            Assert.Contains("bypass", Assert.Throws<NodeStartupException>(() => NatNode.Create([], o, configureLogging: l => l.ClearProviders())).Message);
            return;
        }
        var e = Assert.Throws<NodeStartupException>(() => NatNode.Create([], o, configureLogging: l => l.ClearProviders()));
        Assert.Contains(expected, e.Message);
    }
}
