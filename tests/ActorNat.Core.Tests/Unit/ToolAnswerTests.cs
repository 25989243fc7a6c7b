using System.Text.Json;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;
using ActorNat.Core.Routing;
using ActorNat.Core.Rules;

namespace ActorNat.Core.Tests.Unit;

/// <summary>
/// Our parsers accept and refuse the lines that this machine's `iptables` and `ip` accept and refuse, read the same
/// values, and say the same thing when they refuse. The tools' answers were recorded in a throw-away network namespace
/// by unit/tool-answers/record.py (kept in tool-answers.json); where ActorNat deliberately refuses more, the case says why.
/// </summary>
public class ToolAnswerTests
{
    public sealed record Case(string Tool, string[] Args, int Exit, string Stderr, string[] Stored)
    {
        public string Line => Tool + " " + string.Join(' ', Args.Select(a => a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
        public override string ToString() => Line.Replace("\n", "\\n").Replace("\t", "\\t");
    }

    private static readonly string DataPath = Path.Combine(AppContext.BaseDirectory, "tool-answers", "tool-answers.json");

    public static IReadOnlyList<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DataPath));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("tool").GetString()!, c.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray(),
            c.GetProperty("exit").GetInt32(), c.GetProperty("stderr").GetString()!,
            c.GetProperty("stored").EnumerateArray().Select(a => a.GetString()!).ToArray())).ToList();
    }

    public static TheoryData<int> Indexes() => new(Enumerable.Range(0, Cases().Count));

    /// <summary>Where ActorNat refuses what the tool takes (or says it differently), and why.</summary>
    private static readonly Dictionary<string, string> Stricter = new()
    {
        ["iptables -t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 0"] = "port 0 cannot be allocated",
        ["iptables -t nat -A POSTROUTING -j SNAT --to-source 10.0.0.9-10.0.0.1"] = "the first address is above the last",
        ["iptables -t nat -A POSTROUTING -o eth/0 -j MASQUERADE"] = "not allowed in an interface name",
        ["iptables -t nat -A POSTROUTING -o eth:0 -j MASQUERADE"] = "not allowed in an interface name",
        ["iptables -t nat -A POSTROUTING -o 'eth 0' -j MASQUERADE"] = "not allowed in an interface name",
        ["iptables -t nat -A POSTROUTING -o 'eth\t0' -j MASQUERADE"] = "control character \\t",
        ["iptables -t nat -A POSTROUTING -o 'eth\n0' -j MASQUERADE"] = "control character \\n",
        ["ip route add 198.51.100.0/24 via 10.0.2.2 metric 4294967295"] = "the highest ActorNat keeps",
    };

    /// <summary>The tool refuses with a message of its own that does not fit ours (or refuses for a reason beyond parsing).</summary>
    private static readonly Dictionary<string, string> OtherMessage = new()
    {
        ["ip link set dev eth0123456789abc up"] = "not a valid ifname (longer than 15 characters)",
        ["ip link set dev eth:0 up"] = "not a valid ifname ('':'",
    };

    [Theory]
    [MemberData(nameof(Indexes))]
    public void Our_parsers_answer_as_the_tool_did(int index)
    {
        var c = Cases()[index];
        var engine = new NatEngine(new ManualClock(1000), new SeededRandom(1));
        engine.Apply("ip link set dev eth0 up");
        engine.Apply("ip addr add 10.0.2.15/24 dev eth0");
        if (c.Tool == "ip") { engine.Apply("ip link set dev eth0123456789ab up"); }
        ParseException? refused = null;
        if (c.Stderr.StartsWith("Error: Nexthop has invalid gateway", StringComparison.Ordinal))
        {
            // The kernel refused the route, not ip's parser: ip read 010.0.2.2 as 8.0.2.2, which is off-link. So do we.
            var e = Assert.Throws<InvalidOperationException>(() => engine.Apply(c.Line));
            Assert.Contains("Nexthop has invalid gateway 8.0.2.2", e.Message);
            return;
        }
        try { engine.Apply(c.Line); }
        catch (ParseException e) { refused = e; }

        if (Stricter.TryGetValue(c.Line, out var why))
        {
            Assert.True(refused is not null, $"{c}: ActorNat should refuse ({why})");
            Assert.Contains(why, refused!.Message);
            return;
        }
        if (c.Exit != 0)
        {
            Assert.True(refused is not null, $"{c}: the tool refused ({c.Stderr}), ActorNat took it");
            if (OtherMessage.TryGetValue(c.Line, out var ours)) Assert.Contains(ours.Replace("''", "'"), refused!.Message);
            else Assert.Contains(ToolMessage(c.Stderr), refused!.Message);
            return;
        }
        Assert.True(refused is null, $"{c}: the tool took it, ActorNat refused: {refused?.Message}");
        var config = LocalNatBackend.Snapshot(engine);
        foreach (var stored in c.Stored)
        {
            if (c.Tool == "iptables") Assert.Contains(stored, config.Rules);
            else if (c.Args[0] == "addr") Assert.Contains(config.Addresses, a => a.Contains(" " + stored + " ", StringComparison.Ordinal));
            else Assert.Contains(config.Routes, r => r.StartsWith(stored.Split(" dev ")[0], StringComparison.Ordinal));
        }
    }

    /// <summary>The tool's own words: "iptables v1.8.9 (nf_tables): MSG\nTry …" or "Error: MSG".</summary>
    private static string ToolMessage(string stderr)
    {
        var first = stderr.Split('\n')[0];
        var colon = first.IndexOf("): ", StringComparison.Ordinal);
        if (first.StartsWith("iptables", StringComparison.Ordinal) && colon > 0) return first[(colon + 3)..];
        return first.StartsWith("Error: ", StringComparison.Ordinal) ? first["Error: ".Length..].TrimEnd('.') : first;
    }

    [Fact]
    public void The_recorded_answers_cover_the_refusals_the_issue_names()
    {
        var cases = Cases();
        Assert.Contains(cases, c => c.Stderr.Contains("funky"));
        Assert.Contains(cases, c => c.Stderr.Contains("IFNAMSIZ"));
        Assert.Contains(cases, c => c.Stored.Contains("-A POSTROUTING -s 8.0.0.1/32 -j MASQUERADE"));
        Assert.Contains(cases, c => c.Stored.Contains("8.0.0.1/24"));
    }

    [Theory]
    [InlineData("iptables -t nat -A POSTROUTING -j MASQUERADE\0iptables -t nat -A POSTROUTING -j MASQUERADE", "\\0")]
    [InlineData("iptables -t nat -A POSTROUTING -j MASQUERADE\niptables -t nat -A POSTROUTING -j MASQUERADE", "\\n")]
    [InlineData("iptables -t nat -A POSTROUTING -o eth0\r -j MASQUERADE", "\\r")]
    [InlineData("ip addr add 10.0.0.1/24 dev eth0\u001b", "\\x1b")]
    public void A_control_character_anywhere_refuses_the_whole_line(string line, string token)
    {
        var engine = new NatEngine(new ManualClock(1000), new SeededRandom(1));
        var e = Assert.Throws<ParseException>(() => engine.Apply(line));
        Assert.Equal(token, e.Token);
        Assert.DoesNotContain(engine.Rules.Listing(), l => l.StartsWith("-A", StringComparison.Ordinal));
    }
}
