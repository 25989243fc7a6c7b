using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>The global options of the client commands and what each command needs to talk to a node.</summary>
public static class GlobalOptions
{
    public const string DefaultTarget = "http://127.0.0.1:50051";

    public static readonly Option<string> Target = new("--target")
    {
        Description = "The node to talk to (gRPC over HTTP/2, h2c); `bench` takes several, comma-separated. Default: $ACTORNAT_TARGET or " + DefaultTarget + ".",
        Recursive = true,
        HelpName = "URL",
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "Admin bearer token for calls that change state. Default: $ACTORNAT_TOKEN.",
        Recursive = true,
        HelpName = "TOKEN",
    };
}

/// <summary>One command's connection to a node, its output writers, and its error reporting.</summary>
internal sealed class ClientContext : IDisposable
{
    private readonly GrpcChannel _channel;

    public ClientContext(ParseResult parse)
    {
        var target = parse.GetValue(GlobalOptions.Target);
        if (string.IsNullOrEmpty(target)) target = Environment.GetEnvironmentVariable("ACTORNAT_TARGET");
        if (string.IsNullOrEmpty(target)) target = GlobalOptions.DefaultTarget;
        // Several nodes (`a,b,c`): commands talk to the first; `bench` spreads its load over all of them.
        Targets = target.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.Contains("://", StringComparison.Ordinal) ? t : "http://" + t).ToArray();
        if (Targets.Count == 0) Targets = [GlobalOptions.DefaultTarget];
        target = Targets[0];
        Target = target;
        var token = parse.GetValue(GlobalOptions.Token);
        if (string.IsNullOrEmpty(token)) token = Environment.GetEnvironmentVariable("ACTORNAT_TOKEN");
        Headers = new Metadata();
        if (!string.IsNullOrEmpty(token)) Headers.Add("authorization", "Bearer " + token);
        Out = parse.InvocationConfiguration.Output;
        Err = parse.InvocationConfiguration.Error;
        _channel = GrpcChannel.ForAddress(target);
        Nat = new Wire.NatService.NatServiceClient(_channel);
        Admin = new Wire.AdminService.AdminServiceClient(_channel);
    }

    public string Target { get; }
    public IReadOnlyList<string> Targets { get; }
    public Metadata Headers { get; }
    public GrpcChannel Channel => _channel;
    public TextWriter Out { get; }
    public TextWriter Err { get; }
    public Wire.NatService.NatServiceClient Nat { get; }
    public Wire.AdminService.AdminServiceClient Admin { get; }

    public void Dispose() => _channel.Dispose();

    /// <summary>Runs a client action; a gRPC error is printed as "actornat: CODE: detail" and gives exit code 1.</summary>
    public static async Task<int> Run(ParseResult parse, CancellationToken ct, Func<ClientContext, CancellationToken, Task<int>> action)
    {
        using var client = new ClientContext(parse);
        try
        {
            return await action(client, ct);
        }
        catch (RpcException e)
        {
            await client.Err.WriteLineAsync($"actornat: {CodeName(e.StatusCode)}: {(e.StatusCode == StatusCode.Unavailable ? $"cannot reach {client.Target}: " : "")}{e.Status.Detail}");
            return 1;
        }
        catch (UsageException e)
        {
            await client.Err.WriteLineAsync($"actornat: {e.Message}");
            return 2;
        }
    }

    public static string CodeName(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Internal => "INTERNAL",
        _ => code.ToString().ToUpperInvariant(),
    };
}

/// <summary>A command line that parses but makes no sense (e.g. two conntrack commands at once): exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
