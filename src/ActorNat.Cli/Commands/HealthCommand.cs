using System.CommandLine;
using Grpc.Core;
using Grpc.Health.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat health`: the node's gRPC health status; with --wait, polls until SERVING (scripts use it).</summary>
public static class HealthCommand
{
    public static Command Create()
    {
        var wait = new Option<double>("--wait") { Description = "Keep asking for up to this many seconds until the node is SERVING.", HelpName = "SECONDS" };
        var cmd = new Command("health", """
            Print the node's gRPC health status (SERVING, NOT_SERVING); exit 0 only when SERVING.

            Example:
              actornat health --target http://127.0.0.1:50051 --wait 30
            """) { wait };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(Math.Max(0, parse.GetValue(wait)));
            var client = new Health.HealthClient(c.Channel);
            while (true)
            {
                string status;
                try
                {
                    var r = await client.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: ct);
                    status = r.Status.ToString().ToUpperInvariant() switch { "SERVING" => "SERVING", "NOTSERVING" => "NOT_SERVING", var s => s };
                }
                catch (RpcException e) when (DateTime.UtcNow < deadline && e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
                {
                    status = "UNAVAILABLE";
                }
                if (status == "SERVING" || DateTime.UtcNow >= deadline)
                {
                    await c.Out.WriteLineAsync(status);
                    return status == "SERVING" ? 0 : 1;
                }
                // Poll interval of a readiness probe, not a stand-in for synchronisation.
                await Task.Delay(200, ct);
            }
        }));
        return cmd;
    }
}
