using System.Globalization;
using System.Text.Json;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>
/// JSON values read the way the python <c>compare</c> reads them: <c>dict.get</c> (missing and null are both None),
/// python equality (1 == 1.0 == True), <c>str()</c>/<c>repr()</c> and truthiness.
/// </summary>
internal static class PyJson
{
    /// <summary><c>obj.get(key)</c>: Undefined when <paramref name="obj"/> is no object or has no such key.</summary>
    public static JsonElement Get(JsonElement obj, string key) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out var v) ? v : default;

    public static bool Has(JsonElement obj, string key) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(key, out _);

    public static bool IsNone(JsonElement v) => v.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null;

    public static bool IsObject(JsonElement v) => v.ValueKind == JsonValueKind.Object;

    /// <summary>Python <c>x == y</c> on JSON-derived values.</summary>
    public static bool Eq(JsonElement a, JsonElement b) => Key(a) == Key(b);

    /// <summary>A string equal for exactly the values python considers equal (usable as a dict-key part).</summary>
    public static string Key(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => "n",
        JsonValueKind.String => "s:" + v.GetString(),
        JsonValueKind.True => "d:1",
        JsonValueKind.False => "d:0",
        JsonValueKind.Number => "d:" + NumberKey(v),
        JsonValueKind.Array => "[" + string.Join(",", v.EnumerateArray().Select(Key)) + "]",
        _ => "{" + string.Join(",", v.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + Key(p.Value))) + "}",
    };

    private static string NumberKey(JsonElement v)
    {
        if (v.TryGetInt64(out var l)) return l.ToString(CultureInfo.InvariantCulture);
        var d = v.GetDouble();
        return d == Math.Floor(d) && Math.Abs(d) < 9e15 ? ((long)d).ToString(CultureInfo.InvariantCulture)
            : d.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A number (bool counts, as in python), else null.</summary>
    public static double? Num(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => v.GetDouble(),
        JsonValueKind.True => 1,
        JsonValueKind.False => 0,
        _ => null,
    };

    /// <summary>The string when the value is one, else null (what an address parser can take).</summary>
    public static string? AsString(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Python <c>str(x)</c>.</summary>
    public static string Str(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => "None",
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        _ => v.GetRawText(),
    };

    /// <summary>Python <c>repr(x)</c> (close enough for messages).</summary>
    public static string Repr(JsonElement v) => v.ValueKind == JsonValueKind.String ? "'" + v.GetString() + "'" : Str(v);

    /// <summary><c>str(obj.get(key, fallback))</c>: the fallback only when the key is absent.</summary>
    public static string StrOr(JsonElement obj, string key, string fallback) =>
        Has(obj, key) ? Str(Get(obj, key)) : fallback;

    /// <summary>Python truthiness.</summary>
    public static bool Truthy(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.False => false,
        JsonValueKind.String => v.GetString()!.Length > 0,
        JsonValueKind.Number => v.GetDouble() != 0,
        JsonValueKind.Array => v.GetArrayLength() > 0,
        JsonValueKind.Object => v.EnumerateObject().Any(),
        _ => true,
    };

    /// <summary>Python <c>int(x or default)</c> for counts and ports read from a scenario.</summary>
    public static long Int(JsonElement v, long dflt)
    {
        if (!Truthy(v)) return dflt;
        return v.ValueKind switch
        {
            JsonValueKind.Number => (long)Math.Truncate(v.GetDouble()),
            JsonValueKind.True => 1,
            JsonValueKind.String => long.Parse(v.GetString()!.Trim(), CultureInfo.InvariantCulture),
            _ => throw new FormatException("int() of " + v.GetRawText()),
        };
    }

    /// <summary>The elements of an array, or nothing.</summary>
    public static IEnumerable<JsonElement> Items(JsonElement v) =>
        v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

    /// <summary>Python <c>str.isdigit()</c> for ASCII input.</summary>
    public static bool IsDigits(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);

    public static string Fmt(double d) =>
        d == Math.Floor(d) && Math.Abs(d) < 9e15 ? ((long)d).ToString(CultureInfo.InvariantCulture)
            : d.ToString("R", CultureInfo.InvariantCulture);
}
