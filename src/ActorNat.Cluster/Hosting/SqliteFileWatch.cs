using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Event;
using Microsoft.Data.Sqlite;

namespace ActorNat.Cluster.Hosting;

/// <summary>
/// A node on SQLite notices when its database file is deleted or replaced underneath it (an operator's `rm`, a restore
/// over it, a volume swapped): the journal would go on writing to a file nobody will open again, or to one whose
/// history is not this node's, and every mapping it acknowledged would be gone after a restart. The file's identity
/// (device and inode, from stat(2)) is taken when the node opens it and compared every <see cref="Every"/>; on a
/// change the node stops acknowledging (<see cref="Fencing.NodeFence.Hold"/>: no journal write is answered, no packet),
/// readiness goes off with the reason, and the reason is logged. Until the node is restarted over the file there is.
/// </summary>
public sealed class SqliteFileWatch : IDisposable
{
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);
    private readonly string _path;
    private readonly (ulong Dev, ulong Ino) _identity;
    private readonly NatNodeContext _ctx;
    private readonly Action<string> _log;
    private readonly Timer _timer;

    private SqliteFileWatch(string path, (ulong, ulong) identity, NatNodeContext ctx, Action<string> log)
    {
        _path = path;
        _identity = identity;
        _ctx = ctx;
        _log = log;
        _timer = new Timer(_ => Check(), null, Every, Every);
    }

    /// <summary>Watches the SQLite file of <paramref name="db"/> (nothing for other databases); stops with the actor system.</summary>
    public static void Start(ActorSystem system, NatNodeContext ctx, Database db)
    {
        if (db.Kind != "sqlite") return;
        var path = new SqliteConnectionStringBuilder(db.ConnectionString).DataSource;
        if (Identity(path) is not { } id) return; // not a file stat(2) can see (not Linux): nothing to compare
        var watch = new SqliteFileWatch(path, id, ctx, m => system.Log.Error("{0}", m));
        system.RegisterOnTermination(watch.Dispose);
    }

    /// <summary>The current identity compared with the one at start; the node held (once) when it differs.</summary>
    public void Check()
    {
        if (_ctx.Fence.Held is not null) return;
        var now = Identity(_path);
        string? problem = now switch
        {
            null => $"the SQLite file {_path} was deleted while the node ran: nothing it acknowledges would survive a restart; not acknowledging any more (restart the node over its file)",
            var n when n != _identity => $"the SQLite file {_path} was replaced while the node ran (device {_identity.Dev} inode {_identity.Ino} at start, now device {n.Value.Dev} inode {n.Value.Ino}): not acknowledging any more (restart the node over the file it should use)",
            _ => null,
        };
        if (problem is null) return;
        _ctx.Fence.Hold(problem);
        _log(problem);
    }

    public void Dispose() => _timer.Dispose();

    private static (ulong Dev, ulong Ino)? Identity(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var buf = new byte[256]; // struct stat: st_dev at 0 and st_ino at 8 on x86_64 and aarch64 (generic layout)
        return Stat(path, buf) != 0 ? null : (BitConverter.ToUInt64(buf, 0), BitConverter.ToUInt64(buf, 8));
    }

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);
}
