namespace ActorNat.Cli.Tests;

/// <summary>`actornat iptables …`: iptables' own command lines against a live node's nat table, user chains included.</summary>
public class IptablesCommandTests
{
    [Fact]
    public async Task User_chains_are_made_filled_listed_and_refused_as_iptables_does()
    {
        await using var node = await TestNode.StartAsync();
        async Task<(int Code, string Out, string Err)> Iptables(params string[] args) =>
            await TestNode.RunCli(["iptables", .. args, "--target", node.Url, "--token", TestNode.Token]);

        Assert.Equal(0, (await Iptables("-t", "nat", "-N", "WEB")).Code);
        Assert.Equal(0, (await Iptables("-t", "nat", "-A", "WEB", "-p", "tcp", "-j", "MASQUERADE", "--to-ports", "40000-40099")).Code);
        Assert.Equal(0, (await Iptables("-t", "nat", "-A", "POSTROUTING", "-p", "tcp", "-m", "multiport", "--dports", "80,443",
            "-m", "comment", "--comment", "web traffic", "-j", "WEB")).Code);

        var listed = await Iptables("-t", "nat", "-S");
        Assert.Equal(0, listed.Code);
        Assert.Contains("-N WEB", listed.Out);
        Assert.Contains("-A POSTROUTING -p tcp -m multiport --dports 80,443 -m comment --comment \"web traffic\" -j WEB", listed.Out);
        Assert.Contains("-A WEB -p tcp -j MASQUERADE --to-ports 40000-40099", listed.Out);

        var busy = await Iptables("-t", "nat", "-X", "WEB");
        Assert.NotEqual(0, busy.Code);
        Assert.Contains("CHAIN_DEL failed (Device or resource busy): chain WEB", busy.Err);
        var missing = await Iptables("-t", "nat", "-A", "POSTROUTING", "-j", "NOPE");
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("Chain 'NOPE' does not exist", missing.Err);
    }
}
