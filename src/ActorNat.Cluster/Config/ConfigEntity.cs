using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Persistence;
using ActorNat.Cluster.Messages;
using ActorNat.Core;
using ActorNat.Core.Engine;
using ActorNat.Core.Nat;

namespace ActorNat.Cluster.Config;

/// <summary>
/// The cluster's configuration: the ordered `ip …`, `iptables …` and `sysctl -w …` lines that built it, event-sourced
/// in one entity. A line is validated by replaying everything on a scratch engine, made durable, then published to
/// every node's router (which also polls, since pub-sub may drop).
/// </summary>
public sealed class ConfigEntity : ReceivePersistentActor
{
    public const string Topic = "actornat-config";
    private readonly List<string> _lines = [];

    public ConfigEntity()
    {
        Recover<ConfigLineApplied>(e => _lines.AddRange(Lines(e)));
        Command<ApplyConfig>(OnApply);
        Command<GetConfig>(_ => Sender.Tell(State()));
        Command<StopEntity>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => "config";

    private ConfigState State()
    {
        var s = new ConfigState { Version = _lines.Count };
        s.Lines.AddRange(_lines);
        return s;
    }

    private static IEnumerable<string> Lines(ConfigLineApplied e) => e.Lines.Count > 0 ? e.Lines : [e.Line];

    /// <summary>Every line of the request is validated on a scratch engine before any is persisted: all or none.</summary>
    private void OnApply(ApplyConfig m)
    {
        var batch = m.Lines.Count > 0 ? m.Lines.ToList() : [m.Line];
        var scratch = new NatEngine(SystemClock.Instance, new SeededRandom(1));
        foreach (var line in _lines) scratch.Apply(line);
        for (int i = 0; i < batch.Count; i++)
        {
            try
            {
                scratch.Apply(batch[i]);
            }
            catch (ParseException e)
            {
                Sender.Tell(new ConfigResult { Ok = false, Error = e.Message, Token = e.Token, Version = _lines.Count, Index = i });
                return;
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
            {
                Sender.Tell(new ConfigResult { Ok = false, Error = e.Message, Version = _lines.Count, Index = i });
                return;
            }
        }
        var applied = new ConfigLineApplied();
        if (m.Lines.Count > 0) applied.Lines.AddRange(batch);
        else applied.Line = m.Line;
        // The handler uses the batch it validated, not the event it is handed: with serialize-messages on (tests, one
        // node) the journal's reply is checked through Akka's JSON fallback, which cannot fill a protobuf repeated field.
        Persist(applied, _ =>
        {
            _lines.AddRange(batch);
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topic, State()));
            Sender.Tell(new ConfigResult { Ok = true, Version = _lines.Count });
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new ConfigEntity());
}
