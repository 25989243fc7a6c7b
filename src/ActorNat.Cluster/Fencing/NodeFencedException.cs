namespace ActorNat.Cluster.Fencing;

/// <summary>
/// This node may not answer now (a long pause, or cut off from the majority). A kind of timeout: the cluster does not
/// answer through this node, and the client should try another.
/// </summary>
public sealed class NodeFencedException(string reason) : TimeoutException(reason);
