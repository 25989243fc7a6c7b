using ActorNat.Core.Net;
using ActorNat.Core.Rules;

namespace ActorNat.Core.Routing;

/// <summary>Reads the iproute2 commands a NAT box is configured with. Errors name the wrong word.</summary>
public static class IpCommandParser
{
    public static IpCommand Parse(string line) => Parse(CommandLine.Split(line));

    public static IpCommand Parse(IReadOnlyList<string> words)
    {
        int i = 0;
        if (i < words.Count && (words[i] == "ip" || words[i].EndsWith("/ip", StringComparison.Ordinal))) i++;
        while (i < words.Count && words[i] is "-4" or "-o") i++;
        if (i >= words.Count) throw new ParseException("missing object: addr, route or link", words.Count > 0 ? words[^1] : "");
        var obj = words[i++];
        var rest = words.Skip(i).ToList();
        if (IsPrefixOf(obj, "address", 1)) return ParseAddress(rest, obj);
        if (IsPrefixOf(obj, "route", 1)) return ParseRoute(rest, obj);
        if (IsPrefixOf(obj, "link", 1)) return ParseLink(rest, obj);
        throw new ParseException($"Object \"{obj}\" is unknown, try \"ip help\" (supported: addr, route, link)", obj);
    }

    // iproute2 accepts any abbreviation down to a minimum ("a", "addr", "address").
    private static bool IsPrefixOf(string word, string full, int min) => word.Length >= min && full.StartsWith(word, StringComparison.Ordinal);

    private static AddressCommand ParseAddress(List<string> w, string obj)
    {
        if (w.Count == 0) throw new ParseException("missing verb: add or del", obj);
        bool add = IsPrefixOf(w[0], "add", 1) ? true
            : IsPrefixOf(w[0], "delete", 1) ? false
            : throw new ParseException($"Command \"{w[0]}\" is unknown (supported: add, del)", w[0]);
        if (w.Count < 2) throw new ParseException("missing address", w[0]);
        var cidr = w[1];
        // As iproute2 reads it: octal/hex parts ("010.0.0.1" is 8.0.0.1), "10.1" = 10.1.0.0, length in base 0.
        var slash = cidr.IndexOf('/');
        int len = 32;
        if (!IPv4.TryParseTool(slash < 0 ? cidr : cidr.AsSpan(0, slash), out var ip)
            || (slash >= 0 && !ToolSyntax.TryParseMask(cidr.AsSpan(slash + 1), out len)))
            throw new ParseException($"any valid prefix is expected rather than \"{cidr}\"", cidr);
        string? dev = null;
        for (int i = 2; i < w.Count; i++)
        {
            if (w[i] == "dev") dev = Device(Arg(w, ref i));
            else throw new ParseException($"unknown argument \"{w[i]}\"", w[i]);
        }
        if (dev is null) throw new ParseException("Not enough information: \"dev\" argument is required.", cidr);
        return new AddressCommand(add, ip, len, dev);
    }

    private static RouteCommand ParseRoute(List<string> w, string obj)
    {
        if (w.Count == 0) throw new ParseException("missing verb: add, del or replace", obj);
        string verb = IsPrefixOf(w[0], "add", 1) ? "add"
            : IsPrefixOf(w[0], "delete", 3) ? "del"
            : w[0] == "replace" ? "replace"
            : throw new ParseException($"Command \"{w[0]}\" is unknown (supported: add, del, replace)", w[0]);
        Prefix? dest = null;
        IPv4? via = null, src = null;
        string? dev = null;
        int? metric = null;
        bool onlink = false;
        var type = RouteType.Unicast;
        for (int i = 1; i < w.Count; i++)
        {
            switch (w[i])
            {
                case "unicast" or "blackhole" or "unreachable" or "prohibit" when i == 1:
                    type = Enum.Parse<RouteType>(w[i], ignoreCase: true);
                    break;
                case "via":
                {
                    var g = Arg(w, ref i);
                    if (g == "inet" && i + 1 < w.Count) g = w[++i];
                    via = IPv4.TryParseTool(g, out var gw) ? gw : throw new ParseException($"invalid gateway \"{g}\"", g);
                    break;
                }
                case "dev" or "oif":
                    dev = Device(Arg(w, ref i));
                    break;
                case "metric" or "priority" or "preference":
                {
                    var m = Arg(w, ref i);
                    // iproute2 takes 0-4294967295 (get_u32); ActorNat keeps metrics as int, so it refuses the top half.
                    if (!ToolSyntax.TryStrtoul(m, out var mv)) throw new ParseException($"argument \"{m}\" is wrong: \"metric\" value is invalid", m);
                    metric = mv <= int.MaxValue ? (int)mv : throw new ParseException($"metric \"{m}\" is above {int.MaxValue}, the highest ActorNat keeps", m);
                    break;
                }
                case "src":
                {
                    var s = Arg(w, ref i);
                    src = IPv4.TryParseTool(s, out var sv) ? sv : throw new ParseException($"invalid source address \"{s}\"", s);
                    break;
                }
                case "onlink":
                    onlink = true;
                    break;
                case "scope":
                {
                    var s = Arg(w, ref i);
                    if (s is not ("link" or "global" or "universe")) throw new ParseException($"invalid scope \"{s}\"", s);
                    break;
                }
                case "proto":
                    Arg(w, ref i);
                    break;
                case "to":
                    dest = ParseDestination(Arg(w, ref i));
                    break;
                default:
                    if (dest is not null) throw new ParseException($"unknown argument \"{w[i]}\"", w[i]);
                    dest = ParseDestination(w[i]);
                    break;
            }
        }
        if (dest is null) throw new ParseException("missing destination prefix (or \"default\")", w[0]);
        if (type is not RouteType.Unicast && via is not null) throw new ParseException($"a {type.ToString().ToLowerInvariant()} route has no gateway", "via");
        if (type is RouteType.Unicast && via is null && dev is null && verb != "del") throw new ParseException("a route needs \"via GATEWAY\" or \"dev IF\"", w[^1]);
        if (onlink && dev is null) throw new ParseException("\"onlink\" needs \"dev IF\"", "onlink");
        return new RouteCommand(verb, dest.Value, via, dev, metric, src, onlink, type);
    }

    private static Prefix ParseDestination(string text)
    {
        if (text is "default" or "all" or "any") return Prefix.Default;
        if (!ToolSyntax.TryParsePrefix(text, out var p)) throw new ParseException($"any valid prefix is expected rather than \"{text}\"", text);
        var slash = text.IndexOf('/');
        if (slash >= 0 && IPv4.TryParseTool(text.AsSpan(0, slash), out var ip) && ip != p.Network)
            throw new ParseException($"Invalid prefix for given prefix length: \"{text}\"", text);
        return p;
    }

    private static LinkCommand ParseLink(List<string> w, string obj)
    {
        if (w.Count == 0 || w[0] != "set") throw new ParseException("only \"ip link set IF up|down\" is supported", w.Count > 0 ? w[0] : obj);
        string? dev = null;
        bool? up = null;
        for (int i = 1; i < w.Count; i++)
        {
            switch (w[i])
            {
                case "dev": dev = Device(Arg(w, ref i)); break;
                case "up": up = true; break;
                case "down": up = false; break;
                default:
                    if (dev is null) dev = Device(w[i]);
                    else throw new ParseException($"unknown argument \"{w[i]}\"", w[i]);
                    break;
            }
        }
        if (dev is null) throw new ParseException("missing device", "set");
        if (up is null) throw new ParseException("missing \"up\" or \"down\"", dev);
        return new LinkCommand(dev, up.Value);
    }

    /// <summary>A device name the kernel could hold (dev_valid_name); iproute2: `"dev" not a valid ifname`.</summary>
    private static string Device(string name)
    {
        var bad = ToolSyntax.InterfaceNameProblem(name);
        if (bad is not null) throw new ParseException($"argument \"{name}\" is wrong: \"dev\" not a valid ifname ({bad})", name);
        return name;
    }

    private static string Arg(List<string> w, ref int i)
    {
        if (i + 1 >= w.Count) throw new ParseException($"\"{w[i]}\" needs an argument", w[i]);
        return w[++i];
    }
}
