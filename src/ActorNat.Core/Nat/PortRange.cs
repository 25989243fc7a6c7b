namespace ActorNat.Core.Nat;

/// <summary>An inclusive range of ports or ICMP ids, e.g. `--to-ports 55666-55680`.</summary>
public readonly record struct PortRange(ushort Min, ushort Max)
{
    public int Size => Max - Min + 1;
    public bool Contains(ushort port) => port >= Min && port <= Max;

    /// <summary>The kernel's class of a port when no range is given: 1-511, 600-1023 (512-599 map up), 1024-65535.</summary>
    public static PortRange ClassOf(ushort port) => port < 1024
        ? port < 512 ? new PortRange(1, 511) : new PortRange(600, 1023)
        : new PortRange(1024, 65535);

    /// <summary>ICMP echo ids have one class: 0-65535.</summary>
    public static readonly PortRange AllIds = new(0, 65535);

    public static bool TryParse(string text, char separator, out PortRange range)
    {
        range = default;
        var parts = text.Split(separator);
        if (parts.Length is < 1 or > 2) return false;
        if (!ushort.TryParse(parts[0], out var min)) return false;
        ushort max = min;
        if (parts.Length == 2 && !ushort.TryParse(parts[1], out max)) return false;
        if (max < min) (min, max) = (max, min);
        range = new PortRange(min, max);
        return true;
    }

    public string ToString(char separator) => Min == Max ? Min.ToString() : $"{Min}{separator}{Max}";
    public override string ToString() => ToString('-');
}
