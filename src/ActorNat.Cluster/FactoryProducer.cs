using Akka.Actor;

namespace ActorNat.Cluster;

/// <summary>
/// Creates an actor by calling a delegate. <c>Props.Create(() => new T(...))</c> evaluates its expression tree and
/// activates the type by reflection for every actor; a conntrack entity is created per new flow, so that cost (and
/// the lock contention it brings) was on the hot path.
/// </summary>
public sealed class FactoryProducer<T>(Func<T> create) : IIndirectActorProducer where T : ActorBase
{
    public Type ActorType => typeof(T);
    public ActorBase Produce() => create();
    public void Release(ActorBase actor) { }

    public static Props Props(Func<T> create) => Akka.Actor.Props.CreateBy(new FactoryProducer<T>(create));
}
