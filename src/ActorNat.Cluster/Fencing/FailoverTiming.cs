namespace ActorNat.Cluster.Fencing;

/// <summary>
/// The timings of detection, downing and fencing, and the inequality that keeps them safe together
/// (docs/RELIABILITY.md, "The fence's inequality"):
/// <code>
///   lease + heartbeat + round trip budget &lt; acceptable pause + stable-after + removal margin  (earliest takeover)
///   pause limit = earliest takeover - heartbeat
/// </code>
/// The survivors cannot take a node's shards over sooner than <see cref="EarliestTakeover"/> after they last heard from
/// it: the phi detector stays far below its threshold until a heartbeat is <see cref="AcceptablePause"/> overdue, the
/// split brain resolver then waits <see cref="StableAfter"/>, and sharding and singletons wait
/// <see cref="RemovalMargin"/> after the removal. A node acts only while a majority answered one of its pings sent
/// within the last <see cref="Lease"/> (see <see cref="LeaseKeeper"/>), so whatever cuts it off, it stops acting before
/// anyone may replace it — without waiting for its own failure detector.
/// </summary>
public sealed record FailoverTiming(TimeSpan Heartbeat, TimeSpan AcceptablePause, TimeSpan StableAfter, TimeSpan RemovalMargin)
{
    /// <summary>How often a node pings the other members for its lease.</summary>
    public static readonly TimeSpan PingEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>What a ping's answer may take on a loaded machine, beyond the heartbeat's own interval.</summary>
    public static readonly TimeSpan RoundTripBudget = TimeSpan.FromMilliseconds(200);

    /// <summary>The least time from the survivors' last word from a node to a new home for its shards.</summary>
    public TimeSpan EarliestTakeover => AcceptablePause + StableAfter + RemovalMargin;

    /// <summary>
    /// How long a majority's answer to a ping keeps the node acting: the earliest takeover less the heartbeat interval
    /// (the survivors' last heartbeat may be that much older than the node's last answered ping), the round trip budget
    /// and as much again for margin.
    /// </summary>
    public TimeSpan Lease => EarliestTakeover - Heartbeat - RoundTripBudget - RoundTripBudget;

    /// <summary>
    /// A stall longer than this shuts the node down: the survivors may have replaced it (their last heartbeat from it
    /// may be one interval older than the stall's start). A shorter stall cannot have cost it its shards. Safety while
    /// it resumes is the lease's: the answers it finds waiting are to pings sent before the stall, too old to count.
    /// </summary>
    public TimeSpan PauseLimit => EarliestTakeover - Heartbeat;

    /// <summary>Throws when the settings break the inequality (e.g. a removal margin or stable-after set too short).</summary>
    public FailoverTiming Validate()
    {
        if (Lease < PingEvery + PingEvery)
            throw new ArgumentException(
                $"failover timing: lease {Lease.TotalMilliseconds:0} ms (= acceptable pause {AcceptablePause.TotalMilliseconds:0} + stable-after " +
                $"{StableAfter.TotalMilliseconds:0} + removal margin {RemovalMargin.TotalMilliseconds:0} - heartbeat {Heartbeat.TotalMilliseconds:0} " +
                $"- 2 x {RoundTripBudget.TotalMilliseconds:0} ms) is shorter than two pings ({PingEvery.TotalMilliseconds:0} ms each): " +
                "raise the acceptable heartbeat pause or stable-after");
        return this;
    }

    public static FailoverTiming Of(ClusterNodeOptions o) =>
        new FailoverTiming(o.HeartbeatInterval, o.AcceptableHeartbeatPause, o.StableAfter, o.RemovalMargin).Validate();
}
