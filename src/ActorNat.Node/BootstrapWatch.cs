using Akka.Actor;
using Akka.Event;

namespace ActorNat.Node;

/// <summary>
/// The last problem cluster bootstrap reported (a failed discovery lookup, a contact point that does not answer), so
/// that readiness can say why the node is still waiting instead of only that it is. Fed from Akka's event stream.
/// </summary>
internal sealed class BootstrapWatch
{
    private volatile string? _lastFailure;

    public string? LastFailure => _lastFailure;

    public void Attach(ActorSystem system) =>
        system.EventStream.Subscribe(system.ActorOf(Props.Create(() => new Listener(this)), "actornat-bootstrap-watch"), typeof(LogEvent));

    private static bool FromBootstrap(LogEvent e) =>
        e.LogSource.Contains("bootstrapCoordinator", StringComparison.Ordinal) || e.LogSource.Contains("contactPointProbe", StringComparison.Ordinal)
        || e.LogSource.Contains("Discovery", StringComparison.Ordinal);

    private sealed class Listener : ReceiveActor
    {
        public Listener(BootstrapWatch watch) =>
            Receive<LogEvent>(e =>
            {
                if (e.LogLevel() < Akka.Event.LogLevel.WarningLevel || !FromBootstrap(e)) return;
                var text = e.Message?.ToString() ?? "";
                if (e is Error { Cause: { } cause } && !text.Contains(cause.Message, StringComparison.Ordinal)) text += ": " + cause.Message;
                watch._lastFailure = text.Length > 300 ? text[..300] + "…" : text;
            });
    }
}
