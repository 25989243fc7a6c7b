using System.CommandLine;
using ActorNat.Cli.Simulate;

// The `actornat` command: one executable for the simulation, the node, and the client commands.
var root = new RootCommand("ActorNat: a distributed NAT (MASQUERADE/SNAT) control plane that decides as the Linux kernel does.");
root.Subcommands.Add(SimulateCommand.Create());
ActorNat.Cli.Commands.ClientCommands.AddTo(root);
return root.Parse(args).Invoke();
