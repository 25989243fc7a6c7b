using System.Text.Json;
using ActorNat.Cli.Chaos;

namespace ActorNat.Cli.Tests;

/// <summary>
/// The failover timeline of `actornat chaos`, read from activation logs written as nodes write them: cluster events,
/// entity starts and stops, pool recoveries and fence changes, across two incarnations of the lost node.
/// </summary>
public sealed class ChaosTimelineTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "actornat-timeline-" + Guid.NewGuid().ToString("N"));
    private const long At = 1_800_000_000_000;
    private const string Lost = "actornat@127.0.0.1:1001", Survivor = "actornat@127.0.0.1:1002";

    public ChaosTimelineTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(int node, params object[] lines) =>
        File.AppendAllLines(Path.Combine(_dir, $"node{node}.activations.jsonl"), lines.Select(l => JsonSerializer.Serialize(l)));

    private static object Ev(long dt, string inc, string node, string ev, string member) => new { t = At + dt, inc, node, ev, member };
    private static object Entity(long dt, string inc, string node, string entity, bool up) => new { t = At + dt, inc, node, entity, up };

    [Fact]
    public void The_phases_come_from_the_survivors_lines_after_the_fault_and_not_from_the_lost_node_itself()
    {
        var ct = "ct-17-ac120101-10000-c0000201-53";
        var shard = Placement.ConntrackShard(ct);
        Write(1,
            Ev(-5000, "a", Lost, "self", Lost),
            Entity(-4000, "a", Lost, "pool-17/10.0.2.15/3", true),
            Entity(-3000, "a", Lost, ct, true),
            Entity(500, "a", Lost, "pool-17/10.0.2.15/9", true), // the lost incarnation after the fault: not a new home
            Ev(6000, "b", "actornat@127.0.0.1:1003", "self", "actornat@127.0.0.1:1003")); // restarted, new address
        Write(2,
            Ev(-5000, "c", Survivor, "self", Survivor),
            Ev(-2000, "c", Survivor, "unreachable", Lost), // before the fault: not this fault's
            Ev(-1900, "c", Survivor, "reachable", Lost),
            Ev(1900, "c", Survivor, "unreachable", Lost),
            Ev(3100, "c", Survivor, "downed", Lost),
            Ev(3300, "c", Survivor, "removed", Lost),
            Entity(4600, "c", Survivor, ct, true),
            Entity(4800, "c", Survivor, "pool-17/10.0.2.15/3", true),
            Entity(4900, "c", Survivor, "pool-17/10.0.2.15/3", false),
            Ev(5100, "c", Survivor, "recovered", "pool-17/10.0.2.15/3"));
        var f = new FaultRecord(1, "kill", 1) { AtUnixMs = At, Pools = ["pool-17/10.0.2.15/3"], Shards = [shard] };

        Timeline.Fill(_dir, [f]);

        var t = f.Timeline;
        Assert.Equal(1.9, t.Unreachable);
        Assert.Equal(3.1, t.Downed);
        Assert.Equal(3.3, t.Removed);
        Assert.Null(t.Fenced);
        Assert.Equal(4.8, t.PoolHomesFirst);
        Assert.Equal(4.8, t.PoolHomesLast);
        Assert.Equal(5.1, t.PoolsRecoveredLast);
        Assert.Equal(4.6, t.ConntrackHomesFirst);
        Assert.Equal(0, t.PoolsNotRecovered);
    }

    [Fact]
    public void A_partitioned_node_fencing_itself_is_a_phase_and_a_pool_never_recovered_is_counted()
    {
        Write(1,
            Ev(-5000, "a", Lost, "self", Lost),
            new { t = At + 1500, inc = "a", node = Lost, fence = true, since = At + 1500, why = "minority" });
        Write(2, Ev(-5000, "c", Survivor, "self", Survivor), Ev(1400, "c", Survivor, "unreachable", Lost));
        var f = new FaultRecord(1, "partition", 1) { AtUnixMs = At, Pools = ["pool-17/10.0.2.15/3"] };

        Timeline.Fill(_dir, [f]);

        Assert.Equal(1.5, f.Timeline.Fenced);
        Assert.Equal(1.4, f.Timeline.Unreachable);
        Assert.Null(f.Timeline.Downed);
        Assert.Equal(1, f.Timeline.PoolsNotRecovered);
    }

    [Fact]
    public void The_placement_before_a_fault_is_what_the_node_s_latest_incarnation_runs_and_event_lines_are_no_activations()
    {
        Write(1,
            Entity(-9000, "a", Lost, "pool-1", true),
            Ev(-8000, "b", Lost, "self", Lost), // a new incarnation: nothing of "a" runs any more
            Entity(-7000, "b", Lost, "pool-2", true),
            Entity(-6000, "b", Lost, "ct-x", true),
            Entity(-5000, "b", Lost, "ct-x", false),
            Ev(-4000, "b", Lost, "recovered", "pool-2"));
        var active = new ActiveEntities(_dir);
        Assert.Equal(["pool-2"], active.On(1).Order());
        Write(1, Entity(-3000, "b", Lost, "pool-3", true));
        Assert.Equal(["pool-2", "pool-3"], active.On(1).Order()); // only the new lines are read
        Assert.Empty(active.On(2));

        var check = ActivationCheck.Run(_dir, []);
        Assert.Equal(0, check.Overlaps);
        Assert.Equal(4L, check.Activations);
    }

    private static object Fence(long dt, string inc, string node, bool up, long since, string why) => new { t = At + dt, inc, node, fence = up, since = At + since, why };

    [Fact]
    public void A_gone_line_counts_as_detection_and_collateral_counts_only_nodes_no_fault_hit()
    {
        const string Third = "actornat@127.0.0.1:1003";
        Write(1, Ev(-5000, "a", Lost, "self", Lost),
            Fence(900, "a", Lost, true, 800, "lease"), Fence(20_000, "a", Lost, false, 20_000, "lease")); // the faulted node: not counted
        Write(2, Ev(-5000, "c", Survivor, "self", Survivor),
            Ev(120, "c", Survivor, "gone", Lost), Ev(121, "c", Survivor, "downed", Lost), Ev(300, "c", Survivor, "removed", Lost),
            Fence(40_100, "c", Survivor, true, 40_000, "lease"), Fence(40_250, "c", Survivor, false, 40_250, "lease")); // healthy: 0.25 s
        Write(3, Ev(-5000, "d", Third, "self", Third),
            Ev(50_000, "d", Third, "downed", Survivor), // no fault on the survivor then: a false downing
            Ev(1900, "d", Third, "unreachable", Lost));
        var f = new FaultRecord(1, "kill", 1) { AtMs = 0, EndMs = 3000, AtUnixMs = At };

        Timeline.Fill(_dir, [f]);
        Assert.Equal(0.12, f.Timeline.Gone);
        Assert.Equal(0.12, f.Timeline.Unreachable); // the earlier of gone and unreachable
        Assert.Equal(0.121, f.Timeline.Downed);

        var c = Collateral.Read(_dir, [f]);
        Assert.Equal(1, c.LeaseLapses);
        Assert.Equal(0.25, c.LeaseLapsedS, 3);
        Assert.Equal(1, c.FalseDownings);
        Assert.Contains(c.Details, d => d.Contains(Survivor) && d.Contains("no fault"));
    }
}
