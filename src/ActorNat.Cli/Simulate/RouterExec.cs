using ActorNat.Core;
using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;
using ActorNat.Core.Rules;

namespace ActorNat.Cli.Simulate;

/// <summary>A scenario's `exec` in the router that changes conntrack's table or its sysctls (not its rules or routes).</summary>
public abstract record RouterChange;

/// <summary>`sysctl -w KEY=VALUE …`, or `echo VALUE > /proc/sys/KEY`: each key with dots.</summary>
public sealed record SysctlChange(IReadOnlyList<(string Key, string Value)> Assignments) : RouterChange;

/// <summary>`conntrack -D` with conntrack-tools' filters, or `conntrack -F` (every entry).</summary>
public sealed record ConntrackDeletion(ConntrackFilter Filter, bool Flush) : RouterChange;

/// <summary>
/// Reads the router commands a kernel scenario may run between flows to change conntrack: `conntrack -D`/`-F` and
/// `sysctl -w`, bare or as one command under `sh -c`. Anything else is not a <see cref="RouterChange"/> (null); a
/// command of these tools with an option the simulation does not model is refused with the option named.
/// </summary>
public static class RouterExec
{
    public static RouterChange? Parse(IReadOnlyList<string> cmd)
    {
        if (cmd.Count == 3 && cmd[0] is "sh" or "bash" && cmd[1] == "-c") return ParseScript(cmd[2]);
        if (cmd.Count == 0) return null;
        return cmd[0] switch
        {
            "sysctl" => ParseSysctl(cmd),
            "conntrack" => ParseConntrack(cmd),
            _ => null,
        };
    }

    /// <summary>One command under `sh -c`; a script of several (`;`, `&&`, pipes, loops) is not read here.</summary>
    private static RouterChange? ParseScript(string script)
    {
        var text = script.Trim();
        if (text.IndexOfAny([';', '&', '|', '`', '$', '\n']) >= 0) return null;
        // echo VALUE > /proc/sys/net/netfilter/KEY: the procfs form of sysctl -w.
        if (text.StartsWith("echo ", StringComparison.Ordinal) && text.Split('>') is [var echo, var file] &&
            CommandLine.Split(echo) is ["echo", var value] && file.Trim() is var path &&
            path.StartsWith("/proc/sys/", StringComparison.Ordinal))
            return new SysctlChange([(path["/proc/sys/".Length..].Replace('/', '.'), value)]);
        if (text.Contains('>') || text.Contains('<')) return null;
        return Parse(CommandLine.Split(text));
    }

    private static SysctlChange? ParseSysctl(IReadOnlyList<string> cmd)
    {
        var assignments = new List<(string, string)>();
        bool write = false;
        foreach (var word in cmd.Skip(1))
        {
            if (word is "-w" or "--write") { write = true; continue; }
            if (word is "-q" or "--quiet") continue;
            if (word.StartsWith('-')) throw Unsupported($"sysctl option \"{word}\"", word);
            if (word.Split('=', 2) is not [var key, var value])
            {
                if (!write) return null; // `sysctl KEY` only reads
                throw new ParseException($"sysctl: \"{word}\" must be of the form name=value", word);
            }
            assignments.Add((key.Trim().Replace('/', '.'), value.Trim()));
        }
        return assignments.Count == 0 ? null : new SysctlChange(assignments);
    }

    private static ConntrackDeletion? ParseConntrack(IReadOnlyList<string> cmd)
    {
        bool delete = false, flush = false;
        Protocol? proto = null; IPv4? src = null, dst = null; ushort? sport = null, dport = null; TcpState? state = null; ulong? id = null;
        for (int i = 1; i < cmd.Count; i++)
        {
            var option = cmd[i];
            switch (option)
            {
                case "-D" or "--delete": delete = true; break;
                case "-F" or "--flush": flush = true; if (i + 1 < cmd.Count && cmd[i + 1] == "conntrack") i++; break;
                case "-L" or "--dump" or "-C" or "--count" or "-S" or "--stats" or "-G" or "--get": return null; // reads
                case "-f" or "--family": if (Value(cmd, ref i, option) != "ipv4") throw Unsupported("a family other than ipv4", cmd[i]); break;
                case "-p" or "--proto": proto = Proto(Value(cmd, ref i, option)); break;
                case "-s" or "--src" or "--orig-src": src = Address(Value(cmd, ref i, option)); break;
                case "-d" or "--dst" or "--orig-dst": dst = Address(Value(cmd, ref i, option)); break;
                case "--sport" or "--orig-port-src": sport = Port(Value(cmd, ref i, option)); break;
                case "--dport" or "--orig-port-dst": dport = Port(Value(cmd, ref i, option)); break;
                case "--state": state = State(Value(cmd, ref i, option)); break;
                case "--id": id = ulong.TryParse(Value(cmd, ref i, option), out var n) ? n : throw Bad(cmd[i], "an id"); break;
                default: throw Unsupported($"conntrack option \"{option}\"", option);
            }
        }
        if (delete == flush) return delete ? throw Unsupported("conntrack -D together with -F", "-F") : null;
        if (flush) return new ConntrackDeletion(ConntrackFilter.All, Flush: true);
        return new ConntrackDeletion(new ConntrackFilter(proto, src, dst, sport, dport, state, id), Flush: false);
    }

    private static string Value(IReadOnlyList<string> cmd, ref int i, string option) =>
        ++i < cmd.Count ? cmd[i] : throw new ParseException($"conntrack: option \"{option}\" requires an argument", option);

    private static Protocol Proto(string p) => p switch
    {
        "tcp" or "6" => Protocol.Tcp,
        "udp" or "17" => Protocol.Udp,
        "icmp" or "1" => Protocol.Icmp,
        _ => throw Bad(p, "a protocol (tcp, udp, icmp)"),
    };

    private static IPv4 Address(string text) => IPv4.TryParseTool(text, out var ip) ? ip : throw Bad(text, "an IPv4 address");

    private static ushort Port(string text) => ushort.TryParse(text, out var p) ? p : throw Bad(text, "a port 0-65535");

    private static TcpState State(string text) => TcpStateNames.TryParse(text, out var s) ? s : throw Bad(text, "a TCP state");

    private static ParseException Bad(string token, string wanted) => new($"conntrack: \"{token}\" is not {wanted}", token);

    private static ParseException Unsupported(string what, string token) =>
        new($"scenario content not supported by the simulation: {what}", token);
}
