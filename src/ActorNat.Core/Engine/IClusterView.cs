namespace ActorNat.Core.Engine;

/// <summary>One member of a NAT cluster as `actornat cluster status` shows it.</summary>
public sealed record MemberView(string Address, IReadOnlyList<string> Roles, string Status, bool IsSelf, bool IsLeader,
    int Shards, long Entries, string GrpcEndpoint);

/// <summary>A backend made of several nodes tells who they are (the in-process engine is one node and does not).</summary>
public interface IClusterView
{
    Task<IReadOnlyList<MemberView>> MembersAsync(CancellationToken ct = default);
}
