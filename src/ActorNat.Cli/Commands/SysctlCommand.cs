using System.CommandLine;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat sysctl [-w] [-a] KEY[=VALUE]…`: the node's conntrack sysctls, read and written as sysctl(8) does.</summary>
public static class SysctlCommand
{
    public static Command Create()
    {
        var args = new Argument<string[]>("variable") { Description = "KEY to read, or KEY=VALUE to set (with -w).", Arity = ArgumentArity.ZeroOrMore };
        var write = new Option<bool>("--write", "-w") { Description = "Set each KEY=VALUE (a configuration line; needs the admin token)." };
        var all = new Option<bool>("--all", "-a") { Description = "Print every conntrack sysctl the node knows." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "With -w, print nothing." };
        var cmd = new Command("sysctl", """
            Read or set the node's conntrack sysctls, as sysctl(8) prints and sets them:
            net.netfilter.nf_conntrack_max (0: no limit), the read-only nf_conntrack_count (the whole cluster's table)
            and the nf_conntrack_*_timeout values. Setting is the configuration line `sysctl -w KEY=VALUE`.

            Example:
              actornat sysctl -w net.netfilter.nf_conntrack_max=100000 --token $TOKEN
              actornat sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max
              actornat sysctl -a
            """) { args, write, all, quiet };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var vars = parse.GetValue(args) ?? [];
            if (parse.GetValue(write))
            {
                if (vars.Length == 0 || vars.Any(v => !v.Contains('='))) { await c.Err.WriteLineAsync("sysctl -w: expected KEY=VALUE"); return 2; }
                await c.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { vars.Select(v => "sysctl -w " + v) } }, c.Headers, cancellationToken: ct);
                if (!parse.GetValue(quiet)) foreach (var v in vars) await c.Out.WriteLineAsync(v.Replace("=", " = "));
                return 0;
            }
            var reply = await c.Admin.SysctlGetAsync(new Wire.SysctlRequest { Keys = { parse.GetValue(all) ? [] : vars } }, c.Headers, cancellationToken: ct);
            foreach (var line in reply.Lines) await c.Out.WriteLineAsync(line);
            return 0;
        }));
        return cmd;
    }
}
