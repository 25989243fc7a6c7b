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
        Recover<ConfigLineApplied>(e => _lines.Add(e.Line));
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

    private void OnApply(ApplyConfig m)
    {
        try
        {
            var scratch = new NatEngine(SystemClock.Instance, new SeededRandom(1));
            foreach (var line in _lines) scratch.Apply(line);
            scratch.Apply(m.Line);
        }
        catch (ParseException e)
        {
            Sender.Tell(new ConfigResult { Ok = false, Error = e.Message, Token = e.Token, Version = _lines.Count });
            return;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            Sender.Tell(new ConfigResult { Ok = false, Error = e.Message, Version = _lines.Count });
            return;
        }
        Persist(new ConfigLineApplied { Line = m.Line }, e =>
        {
            _lines.Add(e.Line);
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topic, State()));
            Sender.Tell(new ConfigResult { Ok = true, Version = _lines.Count });
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new ConfigEntity());
}
