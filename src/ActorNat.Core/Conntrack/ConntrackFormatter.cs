using System.Text;
using ActorNat.Core.Net;

namespace ActorNat.Core.Conntrack;

/// <summary>conntrack-tools' text layout, byte for byte (`conntrack -L`).</summary>
public static class ConntrackFormatter
{
    /// <summary>
    /// `tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… dst=… sport=… dport=… [ASSURED] mark=0 use=1`:
    /// protocol name left-justified in 8 columns, protocol number, seconds left, TCP state, the original tuple,
    /// [UNREPLIED], the reply tuple, [ASSURED], mark and use.
    /// </summary>
    public static string Format(in ConntrackEntry e, long nowMs, bool withId = false) =>
        FormatWithRemaining(e, e.State.RemainingSeconds(nowMs), withId);

    /// <summary>The same line with the remaining lifetime already known (a listing from another node's clock).</summary>
    public static string FormatWithRemaining(in ConntrackEntry e, long remainingSeconds, bool withId = false)
    {
        var sb = new StringBuilder(160);
        sb.Append(e.Original.Proto.Name().PadRight(8)).Append(' ')
          .Append((byte)e.Original.Proto).Append(' ')
          .Append(remainingSeconds).Append(' ');
        if (e.Original.Proto == Protocol.Tcp) sb.Append(e.State.Tcp.Name()).Append(' ');
        sb.Append(e.Original).Append(' ');
        if (!e.State.Replied) sb.Append("[UNREPLIED] ");
        sb.Append(e.Reply).Append(' ');
        if (e.State.Assured) sb.Append("[ASSURED] ");
        sb.Append("mark=0 use=1");
        if (withId) sb.Append(" id=").Append(e.Id);
        return sb.ToString();
    }

    /// <summary>The line conntrack prints on stderr after a listing.</summary>
    public static string Footer(int count) => $"conntrack v1.4.7 (conntrack-tools): {count} flow entries have been shown.";
}
