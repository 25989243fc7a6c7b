using System.Reflection;

namespace ActorNat.Cluster.Failover;

/// <summary>
/// Akka's internal singleton messages that <see cref="SbrTicker"/> and <see cref="CoordinatorKick"/> send (their types
/// are not public). Null when this Akka has no such type: the callers then send nothing and warn; tests pin each name.
/// </summary>
internal static class AkkaInternals
{
    /// <summary>The static <c>Instance</c> of <paramref name="typeName"/> in the assembly of <paramref name="anchor"/>.</summary>
    public static object? Instance(Type anchor, string typeName) =>
        anchor.Assembly.GetType(typeName)
            ?.GetField("Instance", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)?.GetValue(null);
}
