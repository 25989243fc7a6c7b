using ActorNat.Node;

namespace ActorNat.Cli.Tests;

/// <summary>A node on real Kestrel, 127.0.0.1 port 0, with an admin token; stopped after the test.</summary>
public sealed class TestNode : IAsyncDisposable
{
    public const string Token = "cli-tests-token";

    private TestNode(NatNode node) => Node = node;

    public NatNode Node { get; }
    public string Url => Node.GrpcUrl;

    public static async Task<TestNode> StartAsync()
    {
        var node = NatNode.Create([], new Dictionary<string, string?>
        {
            ["ActorNat:GrpcEndpoint"] = "127.0.0.1:0",
            ["ActorNat:AdminToken"] = Token,
            ["ActorNat:RandomSeed"] = "7",
        }, configureLogging: l => l.ClearProviders());
        try
        {
            await node.StartAsync();
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
        return new TestNode(node);
    }

    public async ValueTask DisposeAsync()
    {
        await Node.StopAsync();
        await Node.DisposeAsync();
    }

    /// <summary>Runs `actornat ARGS` in this process with output and error captured.</summary>
    public static async Task<(int Code, string Out, string Err)> RunCli(params string[] args)
    {
        var root = new System.CommandLine.RootCommand();
        root.Subcommands.Add(ActorNat.Cli.Simulate.SimulateCommand.Create());
        ActorNat.Cli.Commands.ClientCommands.AddTo(root);
        root.Subcommands.Add(ActorNat.Cli.Commands.BenchCommand.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await root.Parse(args).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
