using Akka.Actor;

namespace ActorNat.Cluster.Fencing;

/// <summary>
/// The node's fence as the journal sees it: the journal is an actor Akka creates from configuration, so the node's
/// <see cref="NodeFence"/> is handed over here, per actor system. A fenced node's journal refuses every write, also
/// the ones its actors had queued before it froze.
/// </summary>
public sealed class JournalFence : IExtension
{
    private NodeFence? _fence;

    public static JournalFence Get(ActorSystem system) => system.WithExtension<JournalFence, JournalFenceProvider>();

    public void Use(NodeFence fence) => Volatile.Write(ref _fence, fence);

    /// <summary>Null while the node may write; else why not.</summary>
    public string? Refusal
    {
        get
        {
            var f = Volatile.Read(ref _fence);
            return f is null || f.MayAct ? null : f.Reason ?? "fenced";
        }
    }
}

public sealed class JournalFenceProvider : ExtensionIdProvider<JournalFence>
{
    public override JournalFence CreateExtension(ExtendedActorSystem system) => new();
}
