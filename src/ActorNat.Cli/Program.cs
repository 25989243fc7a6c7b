using System.CommandLine;
using ActorNat.Cli.Simulate;

// The `actornat` command: one executable for the simulation, the node, and the client commands.
var root = new RootCommand("ActorNat: a distributed NAT (MASQUERADE/SNAT) control plane that decides as the Linux kernel does.");
root.Subcommands.Add(SimulateCommand.Create());
ActorNat.Cli.Commands.ClientCommands.AddTo(root);
root.Subcommands.Add(ActorNat.Cli.Commands.BenchCommand.Create());
root.Subcommands.Add(ActorNat.Cli.Commands.ChaosCommand.Create());
root.Subcommands.Add(ActorNat.Cli.Commands.DataplaneCommand.Create());
// No 2 s termination timeout: `actornat node` handles SIGTERM itself (graceful shutdown, a second SIGTERM exits at once).
var parsed = root.Parse(args);
return parsed.Invoke(parsed.CommandResult.Command.Name is "node" or "dataplane" ? new InvocationConfiguration { ProcessTerminationTimeout = null } : new InvocationConfiguration());
