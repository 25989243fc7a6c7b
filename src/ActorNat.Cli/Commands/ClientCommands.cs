using System.CommandLine;

namespace ActorNat.Cli.Commands;

/// <summary>Registers the node and client commands (everything but `simulate`) on the root command.</summary>
public static class ClientCommands
{
    public static void AddTo(RootCommand root)
    {
        root.Options.Add(GlobalOptions.Target);
        root.Options.Add(GlobalOptions.Token);
        root.Options.Add(GlobalOptions.CaCert);
        root.Options.Add(GlobalOptions.Cert);
        root.Options.Add(GlobalOptions.Key);
        root.Subcommands.Add(NodeCommand.Create());
        root.Subcommands.Add(SendCommand.Create());
        root.Subcommands.Add(ConntrackCommand.Create());
        root.Subcommands.Add(ConfigCommands.Rule());
        root.Subcommands.Add(ConfigCommands.Iptables());
        root.Subcommands.Add(ConfigCommands.Addr());
        root.Subcommands.Add(ConfigCommands.Route());
        root.Subcommands.Add(ClusterCommand.Create());
        root.Subcommands.Add(HealthCommand.Create());
        root.Subcommands.Add(SysctlCommand.Create());
    }
}
