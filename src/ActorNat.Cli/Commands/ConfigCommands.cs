using System.CommandLine;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat rule|addr|route add|del|list`: iptables and iproute2 syntax against a node.</summary>
public static class ConfigCommands
{
    public static Command Rule()
    {
        var spec = new Argument<string[]>("spec") { Description = "The rule as after `iptables -t nat -A POSTROUTING` (quote it), or for del also its number.", Arity = ArgumentArity.OneOrMore };
        var position = new Option<uint>("--position", "-I") { Description = "Insert at this 1-based position instead of appending.", HelpName = "N" };
        var add = new Command("add", """
            Append (or with --position insert) a POSTROUTING nat rule.

            Example:
              actornat rule add "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE" --token $TOKEN
              actornat rule add "-s 172.18.0.0/16 -p tcp ! -o docker0 -j MASQUERADE --to-ports 55666-55680"
            """) { spec, position };
        add.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            await c.Admin.RuleAddAsync(new Wire.RuleRequest { Spec = Join(parse.GetValue(spec)), Position = parse.GetValue(position) }, c.Headers, cancellationToken: ct);
            return 0;
        }));
        var delSpec = new Argument<string[]>("spec") { Description = spec.Description, Arity = ArgumentArity.OneOrMore };
        var del = new Command("del", """
            Delete a POSTROUTING nat rule, by its text or its number.

            Example:
              actornat rule del "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE"
              actornat rule del 1
            """) { delSpec };
        del.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            await c.Admin.RuleDelAsync(new Wire.RuleRequest { Spec = Join(parse.GetValue(delSpec)) }, c.Headers, cancellationToken: ct);
            return 0;
        }));
        var list = ListCommand("""
            List the nat POSTROUTING rules as `iptables -t nat -S POSTROUTING` prints them.

            Example:
              actornat rule list
            """, (c, ct) => c.Admin.RuleListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct).ResponseAsync);
        return new Command("rule", """
            Manage the NAT rules (iptables -t nat POSTROUTING syntax).

            Example:
              actornat rule add "-s 172.18.0.0/16 ! -o docker0 -j MASQUERADE"
            """) { add, del, list };
    }

    /// <summary>
    /// `actornat iptables -t nat …`: the whole iptables command line against the node's nat table (user chains, -N, -X,
    /// -F, -I, -D as iptables takes them); `-S` lists it as `iptables -t nat -S` does.
    /// </summary>
    public static Command Iptables()
    {
        var cmd = new Command("iptables", """
            Run an iptables command against the node's nat table, in iptables' own syntax (POSTROUTING and user chains).

            Examples:
              actornat iptables -t nat -N WEB --token $TOKEN
              actornat iptables -t nat -A WEB -p tcp -j MASQUERADE --to-ports 40000-40099
              actornat iptables -t nat -A POSTROUTING -p tcp -m multiport --dports 80,443 -j WEB
              actornat iptables -t nat -S
            """) { TreatUnmatchedTokensAsErrors = false };
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var words = parse.UnmatchedTokens.ToList();
            if (words.Contains("-S") || words.Contains("--list-rules"))
            {
                foreach (var line in (await c.Admin.RuleListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct)).Lines)
                    await c.Out.WriteLineAsync(line);
                return 0;
            }
            var command = "iptables " + string.Join(' ', words.Select(w => w.Length == 0 || w.Any(ch => char.IsWhiteSpace(ch) || ch is '"' or '\'') ? $"'{w}'" : w));
            await c.Admin.ApplyConfigAsync(new Wire.ConfigLines { Lines = { command } }, c.Headers, cancellationToken: ct);
            return 0;
        }));
        return cmd;
    }

    public static Command Addr() => IpObject("addr", "addresses", "172.18.0.1/16 dev docker0", "ip -o addr",
        (c, s, ct) => c.Admin.AddressAddAsync(new Wire.AddressRequest { Spec = s }, c.Headers, cancellationToken: ct).ResponseAsync,
        (c, s, ct) => c.Admin.AddressDelAsync(new Wire.AddressRequest { Spec = s }, c.Headers, cancellationToken: ct).ResponseAsync,
        (c, ct) => c.Admin.AddressListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct).ResponseAsync);

    public static Command Route() => IpObject("route", "routes", "198.51.100.1 via 203.0.113.4 dev eth0", "ip route",
        (c, s, ct) => c.Admin.RouteAddAsync(new Wire.RouteRequest { Spec = s }, c.Headers, cancellationToken: ct).ResponseAsync,
        (c, s, ct) => c.Admin.RouteDelAsync(new Wire.RouteRequest { Spec = s }, c.Headers, cancellationToken: ct).ResponseAsync,
        (c, ct) => c.Admin.RouteListAsync(new Wire.ListRequest(), c.Headers, cancellationToken: ct).ResponseAsync);

    private static Command IpObject(string name, string noun, string example, string listing,
        Func<ClientContext, string, CancellationToken, Task<Wire.Empty>> addCall,
        Func<ClientContext, string, CancellationToken, Task<Wire.Empty>> delCall,
        Func<ClientContext, CancellationToken, Task<Wire.Listing>> listCall)
    {
        Command Change(string verb, Func<ClientContext, string, CancellationToken, Task<Wire.Empty>> call)
        {
            var spec = new Argument<string[]>("spec") { Description = $"The arguments of `ip {name} {verb}`.", Arity = ArgumentArity.OneOrMore };
            var cmd = new Command(verb, $"""
                `ip {name} {verb}` on the node.

                Example:
                  actornat {name} {verb} {example} --token $TOKEN
                """) { spec };
            cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
            {
                await call(c, Join(parse.GetValue(spec)), ct);
                return 0;
            }));
            return cmd;
        }
        var list = ListCommand($"""
            List the {noun} as `{listing}` prints them.

            Example:
              actornat {name} list
            """, listCall);
        return new Command(name, $"""
            Manage the node's {(name == "addr" ? "interface addresses" : "routes")} (iproute2 syntax).

            Example:
              actornat {name} add {example}
            """) { Change("add", addCall), Change("del", delCall), list };
    }

    private static Command ListCommand(string description, Func<ClientContext, CancellationToken, Task<Wire.Listing>> call)
    {
        var cmd = new Command("list", description);
        cmd.Aliases.Add("show");
        cmd.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var l = await call(c, ct);
            foreach (var line in l.Lines) await c.Out.WriteLineAsync(line);
            return 0;
        }));
        return cmd;
    }

    private static string Join(string[]? words) => string.Join(' ', (words ?? []).Select(w => w.Contains(' ') && !w.StartsWith('-') ? $"\"{w}\"" : w));
}
