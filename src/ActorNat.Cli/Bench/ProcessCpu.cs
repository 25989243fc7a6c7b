using System.Diagnostics;

namespace ActorNat.Cli.Bench;

/// <summary>
/// CPU seconds (user + system) a process has used so far. On a shared machine the verdicts per second of a run move
/// with everyone else's load; the node's CPU time per verdict moves much less, so changes are compared by it.
/// </summary>
public static class ProcessCpu
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux ABI .NET runs on

    /// <summary>The process's CPU seconds from /proc/PID/stat, or null when it cannot be read (not Linux, gone).</summary>
    public static double? Seconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may hold spaces, so start after its closing parenthesis):
            // state is field 3; utime and stime are fields 14 and 15.
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(f[11]) + long.Parse(f[12])) / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The processes' CPU seconds summed; null when there are none or one cannot be read.</summary>
    public static double? Seconds(IReadOnlyList<int> pids)
    {
        if (pids.Count == 0) return null;
        double sum = 0;
        foreach (var pid in pids)
            if (Seconds(pid) is { } s) sum += s;
            else return null;
        return sum;
    }

    public static double Self() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
}
