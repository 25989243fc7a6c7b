using System.CommandLine;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Commands;

/// <summary>`actornat cluster status`: a table of members, their roles and status, shards and entries.</summary>
public static class ClusterCommand
{
    public static Command Create()
    {
        var status = new Command("status", """
            Show the cluster's members: address, status, roles, leader, shards and conntrack entries per member.

            Example:
              actornat cluster status --target http://127.0.0.1:50051
            """);
        status.SetAction((parse, ct) => ClientContext.Run(parse, ct, async (c, ct) =>
        {
            var s = await c.Admin.ClusterStatusAsync(new Wire.Empty(), c.Headers, cancellationToken: ct);
            foreach (var line in Table(s)) await c.Out.WriteLineAsync(line);
            return 0;
        }));
        return new Command("cluster", """
            Cluster membership and placement.

            Example:
              actornat cluster status
            """) { status };
    }

    public static IEnumerable<string> Table(Wire.ClusterStatusReply s)
    {
        string[] head = ["MEMBER", "STATUS", "ROLES", "LEADER", "SHARDS", "ENTRIES", "GRPC"];
        var rows = s.Members.Select(m => new[]
        {
            m.Address + (m.IsSelf ? " (self)" : ""), m.Status, string.Join(',', m.Roles), m.IsLeader ? "yes" : "",
            m.Shards.ToString(), m.Entries.ToString(), m.GrpcEndpoint,
        }).ToList();
        var widths = head.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((x, i) => i == cells.Length - 1 ? x : x.PadRight(widths[i]))).TrimEnd();
        yield return Line(head);
        foreach (var r in rows) yield return Line(r);
        yield return $"backend={s.Backend} members={s.Members.Count} leader={s.Leader} entries={s.Members.Sum(m => (long)m.Entries)}";
    }
}
