using System.Text.Json;
using static ActorNat.Core.Tests.Conformance.PyJson;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>A port range and what it is (for messages).</summary>
internal readonly record struct PortRange(long Lo, long Hi, string Description)
{
    public bool Contains(double? port) => port is { } p && Lo <= p && p <= Hi;
}

/// <summary>Reading flows and conntrack entries of the oracle's JSON: ports/ids, tuple keys, class ranges, descriptions.</summary>
internal static class FlowTuples
{
    public static bool IsIcmp(string? proto) => string.Equals(proto, "icmp", StringComparison.OrdinalIgnoreCase);

    public static bool IsIcmp(JsonElement proto) => Str(proto).ToLowerInvariant() == "icmp";

    /// <summary>The flow's source port, or its echo id for ICMP.</summary>
    public static JsonElement FlowPort(JsonElement f) => Get(f, IsIcmp(Get(f, "proto")) ? "id" : "sport");

    public static string FlowDesc(int i, JsonElement f)
    {
        var lab = Get(f, "label");
        var proto = StrOr(f, "proto", "?");
        var ep = IsIcmp(proto)
            ? $"{Str(Get(f, "src"))} id {Str(Get(f, "id"))} -> {Str(Get(f, "dst"))}"
            : $"{Str(Get(f, "src"))}:{Str(Get(f, "sport"))} -> {Str(Get(f, "dst"))}:{Str(Get(f, "dport"))}";
        return $"flow {i}{(IsNone(lab) ? "" : $" [{Str(lab)}]")} {proto} {ep}";
    }

    public static string[] OrigFields(string proto) =>
        IsIcmp(proto) ? ["src", "dst", "type", "code", "id"] : ["src", "dst", "sport", "dport"];

    /// <summary><c>str(ct.get("proto", fallback or "")).lower()</c>.</summary>
    public static string CtProto(JsonElement ct, string? fallback = null) =>
        StrOr(ct, "proto", fallback ?? "").ToLowerInvariant();

    public static JsonElement OrigPort(JsonElement ct) => Get(Get(ct, "original"), IsIcmp(CtProto(ct)) ? "id" : "sport");

    /// <summary>The NAT port: the REPLY destination port (ICMP: the REPLY id).</summary>
    public static JsonElement NatPort(JsonElement ct) => Get(Get(ct, "reply"), IsIcmp(CtProto(ct)) ? "id" : "dport");

    public static string ReplyKey(JsonElement ct)
    {
        var r = Get(ct, "reply");
        var p = CtProto(ct);
        string[] f = IsIcmp(p) ? ["src", "dst", "type", "code", "id"] : ["src", "dst", "sport", "dport"];
        return p + "|" + string.Join("|", f.Select(k => Key(Get(r, k))));
    }

    public static string OrigKey(JsonElement ct)
    {
        var o = Get(ct, "original");
        var p = CtProto(ct);
        return p + "|" + string.Join("|", OrigFields(p).Select(k => Key(Get(o, k))));
    }

    public static string FmtReply(JsonElement ct)
    {
        var r = Get(ct, "reply");
        var p = CtProto(ct);
        return IsIcmp(p)
            ? $"{p} {Str(Get(r, "src"))}->{Str(Get(r, "dst"))} id {Str(Get(r, "id"))}"
            : $"{p} {Str(Get(r, "src"))}:{Str(Get(r, "sport"))}->{Str(Get(r, "dst"))}:{Str(Get(r, "dport"))}";
    }

    /// <summary>The range the kernel draws from when no range is given: by the original port's class; ICMP ids 0-65535.</summary>
    public static PortRange ClassRange(string proto, JsonElement port)
    {
        if (IsIcmp(proto)) return new(0, 65535, "ICMP id range 0-65535");
        var p = Int(port, 0);
        if (p < 512) return new(1, 511, "class range 1-511 (original port < 512)");
        if (p < 1024) return new(600, 1023, "class range 600-1023 (original port 512-1023)");
        return new(1024, 65535, "class range 1024-65535 (original port >= 1024)");
    }

    public static string? NormState(JsonElement s)
    {
        if (IsNone(s)) return null;
        var v = Str(s);
        return v is "" or "NONE" ? null : v.ToUpperInvariant();
    }
}
