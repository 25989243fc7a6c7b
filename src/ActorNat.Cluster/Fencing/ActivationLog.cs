using System.Text.Json;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// A JSON-lines record of where entities ran, for `actornat chaos`'s double-activation check: one line per entity start
/// and stop, and per change of the node's fence (while fenced a node acts for nothing, so an entity there no longer
/// counts as active). Every line carries the process incarnation, so a killed process's lines end where it died.
/// Opt-in (it writes a line per activation).
/// </summary>
public sealed class ActivationLog : IDisposable
{
    private readonly StreamWriter _w;
    private readonly string _incarnation = $"{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";
    private readonly Lock _lock = new();

    public ActivationLog(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        _w = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    public void Entity(string node, string entity, bool up) =>
        Write(new { t = Now(), inc = _incarnation, node, entity, up });

    /// <summary>The fence went up at <paramref name="sinceUnixMs"/> (a pause: when the process froze) or came down.</summary>
    public void Fence(string node, bool up, long sinceUnixMs, string why) =>
        Write(new { t = Now(), inc = _incarnation, node, fence = up, since = sinceUnixMs, why });

    /// <summary>
    /// A cluster event seen from <paramref name="node"/> about <paramref name="member"/> (host:port): `self` at start,
    /// `unreachable`, `reachable`, `downed`, `removed`; or `recovered` for a pool whose journal replay finished
    /// (<paramref name="member"/> is then the pool's id). `actornat chaos` builds each fault's timeline from these.
    /// </summary>
    public void Event(string node, string ev, string member) =>
        Write(new { t = Now(), inc = _incarnation, node, ev, member });

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private void Write(object record)
    {
        var line = JsonSerializer.Serialize(record);
        lock (_lock) _w.WriteLine(line);
    }

    public void Dispose()
    {
        lock (_lock) _w.Dispose();
    }
}
