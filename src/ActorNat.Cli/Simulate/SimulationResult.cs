using ActorNat.Core.Conntrack;
using ActorNat.Core.Net;

namespace ActorNat.Cli.Simulate;

/// <summary>What happened to one flow: its ORIGINAL tuple and what its client saw.</summary>
public sealed record FlowOutcome(ScenarioFlow Flow, FiveTuple Original, string ClientResult);

/// <summary>The end of a simulation run: per-flow outcomes, the table as dumped at the end, and the listings.</summary>
public sealed record SimulationResult(
    string Scenario,
    IReadOnlyList<FlowOutcome> Flows,
    IReadOnlyList<ConntrackEntry> Entries,
    long DumpTimeMs,
    IReadOnlyList<(string Name, long Value)> Stats,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<string> Routes,
    IReadOnlyList<string> Rules,
    IReadOnlyList<Snapshot> Snapshots,
    IReadOnlyList<ExecRecord> Exec);

public sealed record Snapshot(string? Label, long TimeMs, IReadOnlyList<ConntrackEntry> Entries);

public sealed record ExecRecord(string Namespace, IReadOnlyList<string> Command, bool Applied, string Output);
