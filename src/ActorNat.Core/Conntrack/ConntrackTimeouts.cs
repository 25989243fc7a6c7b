namespace ActorNat.Core.Conntrack;

/// <summary>
/// The conntrack timeouts in seconds, with the kernel's defaults and its sysctl names
/// (net.netfilter.nf_conntrack_tcp_timeout_established, …), so a scenario's sysctl block applies as it is.
/// </summary>
public sealed record ConntrackTimeouts
{
    public int TcpSynSent { get; init; } = 120;
    public int TcpSynRecv { get; init; } = 60;
    public int TcpEstablished { get; init; } = 432000;
    public int TcpFinWait { get; init; } = 120;
    public int TcpCloseWait { get; init; } = 60;
    public int TcpLastAck { get; init; } = 30;
    public int TcpTimeWait { get; init; } = 120;
    public int TcpClose { get; init; } = 10;
    public int TcpMaxRetrans { get; init; } = 300;
    public int TcpUnacknowledged { get; init; } = 300;
    public int Udp { get; init; } = 30;
    public int UdpStream { get; init; } = 120;
    public int Icmp { get; init; } = 30;
    public int Generic { get; init; } = 600;

    public static readonly ConntrackTimeouts Default = new();

    public int ForTcp(TcpState state) => state switch
    {
        TcpState.SynSent or TcpState.SynSent2 => TcpSynSent,
        TcpState.SynRecv => TcpSynRecv,
        TcpState.Established => TcpEstablished,
        TcpState.FinWait => TcpFinWait,
        TcpState.CloseWait => TcpCloseWait,
        TcpState.LastAck => TcpLastAck,
        TcpState.TimeWait => TcpTimeWait,
        TcpState.Close => TcpClose,
        _ => TcpClose,
    };

    /// <summary>The timeout a connection in this state gets on its next packet (what a refresh would give it).</summary>
    public int For(in ConnState state) => state.Proto switch
    {
        Net.Protocol.Tcp => ForTcp(state.Tcp),
        Net.Protocol.Udp => state.Assured ? UdpStream : Udp,
        Net.Protocol.Icmp => Icmp,
        _ => Generic,
    };

    private static readonly string[] Keys =
    [
        "tcp_timeout_syn_sent", "tcp_timeout_syn_recv", "tcp_timeout_established", "tcp_timeout_fin_wait",
        "tcp_timeout_close_wait", "tcp_timeout_last_ack", "tcp_timeout_time_wait", "tcp_timeout_close",
        "tcp_timeout_max_retrans", "tcp_timeout_unacknowledged", "udp_timeout", "udp_timeout_stream",
        "icmp_timeout", "generic_timeout",
    ];

    /// <summary>Sets one timeout by its sysctl name (with or without the "net.netfilter.nf_conntrack_" prefix).</summary>
    public ConntrackTimeouts With(string sysctl, int seconds)
    {
        var key = sysctl.Replace('/', '.');
        const string prefix = "net.netfilter.nf_conntrack_";
        if (key.StartsWith(prefix, StringComparison.Ordinal)) key = key[prefix.Length..];
        else if (key.StartsWith("nf_conntrack_", StringComparison.Ordinal)) key = key["nf_conntrack_".Length..];
        if (seconds < 0) throw new ParseException($"invalid timeout {seconds} for {sysctl}", seconds.ToString());
        return key switch
        {
            "tcp_timeout_syn_sent" => this with { TcpSynSent = seconds },
            "tcp_timeout_syn_recv" => this with { TcpSynRecv = seconds },
            "tcp_timeout_established" => this with { TcpEstablished = seconds },
            "tcp_timeout_fin_wait" => this with { TcpFinWait = seconds },
            "tcp_timeout_close_wait" => this with { TcpCloseWait = seconds },
            "tcp_timeout_last_ack" => this with { TcpLastAck = seconds },
            "tcp_timeout_time_wait" => this with { TcpTimeWait = seconds },
            "tcp_timeout_close" => this with { TcpClose = seconds },
            "tcp_timeout_max_retrans" => this with { TcpMaxRetrans = seconds },
            "tcp_timeout_unacknowledged" => this with { TcpUnacknowledged = seconds },
            "udp_timeout" => this with { Udp = seconds },
            "udp_timeout_stream" => this with { UdpStream = seconds },
            "icmp_timeout" => this with { Icmp = seconds },
            "generic_timeout" => this with { Generic = seconds },
            _ => throw new ParseException($"unknown conntrack sysctl \"{sysctl}\" (known: {string.Join(", ", Keys)})", sysctl),
        };
    }

    /// <summary>All timeouts as `nf_conntrack_NAME=SECONDS` lines, like reading /proc/sys/net/netfilter.</summary>
    public IEnumerable<string> AsSysctlLines() =>
    [
        $"nf_conntrack_generic_timeout={Generic}", $"nf_conntrack_icmp_timeout={Icmp}",
        $"nf_conntrack_tcp_timeout_close={TcpClose}", $"nf_conntrack_tcp_timeout_close_wait={TcpCloseWait}",
        $"nf_conntrack_tcp_timeout_established={TcpEstablished}", $"nf_conntrack_tcp_timeout_fin_wait={TcpFinWait}",
        $"nf_conntrack_tcp_timeout_last_ack={TcpLastAck}", $"nf_conntrack_tcp_timeout_max_retrans={TcpMaxRetrans}",
        $"nf_conntrack_tcp_timeout_syn_recv={TcpSynRecv}", $"nf_conntrack_tcp_timeout_syn_sent={TcpSynSent}",
        $"nf_conntrack_tcp_timeout_time_wait={TcpTimeWait}", $"nf_conntrack_tcp_timeout_unacknowledged={TcpUnacknowledged}",
        $"nf_conntrack_udp_timeout={Udp}", $"nf_conntrack_udp_timeout_stream={UdpStream}",
    ];
}
