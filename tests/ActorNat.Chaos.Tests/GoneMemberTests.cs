using System.Text.Json;

namespace ActorNat.Chaos.Tests;

/// <summary>
/// A killed member is downed in milliseconds (its remoting port refuses connects: GoneMemberDowner), long before the
/// failure detector could (acceptable pause 1 s + stable-after 0.5 s); a paused one is not downed that way (its kernel
/// still accepts connects) and waits for the failure detector and the split brain resolver as before. Real `actornat
/// node` processes started by cluster.sh, reading the survivors' activation logs.
/// </summary>
[Collection("chaos")]
public sealed class GoneMemberTests(ChaosFixture fx)
{
    /// <summary>The failure detector's path cannot down a member sooner than this after it stopped.</summary>
    private const double DetectorPathAtLeast = 1.5;

    private (int, string) Cluster(string run, params string[] args) => ChaosFixture.Run("env", fx.Repo, TimeSpan.FromSeconds(180),
        ["ACTORNAT_RUN_DIR=" + run, "ACTORNAT_BIN=" + fx.Actornat, "ACTORNAT_ACTIVATION_LOG=1", "bash", Path.Combine(fx.Repo, "deploy", "local", "cluster.sh"), .. args]);

    private sealed record Line(long T, string Node, string Ev, string Member);

    private static List<Line> Events(string run, int i)
    {
        var list = new List<Line>();
        var file = Path.Combine(run, $"node{i}.activations.jsonl");
        if (!File.Exists(file)) return list;
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } l)
        {
            if (!l.Contains("\"ev\":", StringComparison.Ordinal)) continue;
            try
            {
                var e = JsonDocument.Parse(l).RootElement;
                list.Add(new Line(e.GetProperty("t").GetInt64(), e.GetProperty("node").GetString()!, e.GetProperty("ev").GetString()!, e.GetProperty("member").GetString()!));
            }
            catch (JsonException) { } // a line being written
        }
        return list;
    }

    private static string Address(string run, int i) => Events(run, i).First(e => e.Ev == "self").Member;

    /// <summary>Polls node <paramref name="observer"/>'s log for its line <paramref name="ev"/> about <paramref name="member"/>.</summary>
    private static Line? Await(string run, int observer, string ev, string member, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var hit = Events(run, observer).FirstOrDefault(e => e.Ev == ev && e.Member == member);
            if (hit is not null || DateTime.UtcNow > deadline) return hit;
            Thread.Sleep(50); // polling the log for the event, with a deadline
        }
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public void A_killed_member_is_downed_at_once_and_a_paused_one_only_by_the_failure_detector()
    {
        var run = Path.Combine(fx.Work, "gone-run");
        try
        {
            var (up, upOut) = Cluster(run, "up", "3");
            Assert.True(up == 0, upOut);
            string a1 = Address(run, 1), a2 = Address(run, 2), a3 = Address(run, 3);

            // Kill: the survivors find its port refusing connects and down it before any failure detector could.
            long killedAt = Now();
            var (kill, killOut) = Cluster(run, "kill", "3");
            Assert.True(kill == 0, killOut);
            var downed = Await(run, 1, "downed", a3, TimeSpan.FromSeconds(30));
            Assert.NotNull(downed);
            var gone = Events(run, 1).Concat(Events(run, 2)).Where(e => e.Ev == "gone" && e.Member == a3).ToList();
            Assert.True(gone.Count > 0, "no survivor found the killed node gone (refused connects)");
            double after = (downed!.T - killedAt) / 1000.0;
            Assert.True(after < DetectorPathAtLeast - 0.1, $"the killed node was downed {after:0.000} s after the kill: not by the refused connects");
            Assert.NotNull(Await(run, 1, "removed", a3, TimeSpan.FromSeconds(30)));

            // Pause the higher address of the two left (keep-majority keeps the lowest): its kernel still accepts
            // connects, so only the failure detector and the resolver down it.
            static int Port(string hostPort) => int.Parse(hostPort[(hostPort.LastIndexOf(':') + 1)..]);
            Assert.Equal(a1[..a1.LastIndexOf(':')], a2[..a2.LastIndexOf(':')]); // one host: the port orders them
            var (paused, pausedAddress, observer) = Port(a1) < Port(a2) ? (2, a2, 1) : (1, a1, 2);
            long stoppedAt = Now();
            var (stop, stopOut) = Cluster(run, "stop", paused.ToString());
            Assert.True(stop == 0, stopOut);
            var pausedDowned = Await(run, observer, "downed", pausedAddress, TimeSpan.FromSeconds(4));
            long resumedAt = Now();
            var (cont, contOut) = Cluster(run, "cont", paused.ToString());
            Assert.True(cont == 0, contOut);
            pausedDowned ??= Await(run, observer, "downed", pausedAddress, TimeSpan.FromSeconds(30));
            Assert.NotNull(pausedDowned);
            Assert.DoesNotContain(Events(run, observer), e => e.Ev == "gone" && e.Member == pausedAddress && e.T < resumedAt);
            double pausedAfter = (pausedDowned!.T - stoppedAt) / 1000.0;
            Assert.True(pausedAfter >= 1.0, $"the paused node was downed {pausedAfter:0.000} s after it stopped: sooner than its failure detector allows");
        }
        finally
        {
            Cluster(run, "down", "--wipe");
        }
    }
}
