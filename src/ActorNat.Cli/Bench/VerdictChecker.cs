using Wire = ActorNat.Api.V1;

namespace ActorNat.Cli.Bench;

/// <summary>
/// Checks a sample of verdicts as the bench runs, so that a fast wrong answer is not a result:
/// a new flow must be translated, create its entry, leave from an expected NAT address, keep its port's class
/// (1-511, 512-1023, 1024-65535, as nf_nat's MASQUERADE without --to-ports), and hold a reply tuple no other live
/// sampled flow holds; a packet of an established flow must find its entry and be rewritten to the same mapping.
/// Thread-safe; keeps the first few violations as text.
/// </summary>
public sealed class VerdictChecker(IReadOnlySet<string>? natAddresses)
{
    private readonly Lock _lock = new();
    private readonly HashSet<(string Server, uint ServerPort, string Nat, uint NatPort)> _replies = [];
    private readonly List<string> _examples = [];
    private long _violations, _checked;
    private DateTime _epoch = DateTime.UtcNow;

    public long Violations => Interlocked.Read(ref _violations);
    public long Checked => Interlocked.Read(ref _checked);
    public IReadOnlyList<string> Examples { get { lock (_lock) return _examples.ToList(); } }

    /// <summary>A verdict for a packet that opens a new flow.</summary>
    public void CheckNew(in FlowSpace.Flow f, Wire.Verdict v)
    {
        Interlocked.Increment(ref _checked);
        if (v.Action == Wire.VerdictAction.Drop) return; // counted by reason; not a wrong answer by itself
        var r = v.Rewritten;
        if (v.Action != Wire.VerdictAction.Translate) { Violation(f, v, "new flow not translated by MASQUERADE"); return; }
        if (!v.Created) { Violation(f, v, "new flow did not create its conntrack entry"); return; }
        if (r is null || r.SrcAddress.Length == 0) { Violation(f, v, "no rewritten tuple"); return; }
        if (r.DstAddress != f.Dst || r.DstPort != f.DstPort) { Violation(f, v, "destination rewritten on the way out"); return; }
        if (natAddresses is not null && !natAddresses.Contains(r.SrcAddress)) { Violation(f, v, "NAT address not expected"); return; }
        if (Class(r.SrcPort) != Class(f.SrcPort) || r.SrcPort == 0 || r.SrcPort > 65535) { Violation(f, v, "NAT port outside its class"); return; }
        lock (_lock)
        {
            // UDP entries live 30 s: the set is forgotten every 20 s, so an expired entry's reply tuple may come back.
            if (DateTime.UtcNow - _epoch > TimeSpan.FromSeconds(20)) { _replies.Clear(); _epoch = DateTime.UtcNow; }
            if (!_replies.Add((f.Dst, f.DstPort, r.SrcAddress, r.SrcPort))) Violation(f, v, "reply tuple already held by another live flow");
        }
    }

    /// <summary>A verdict for a packet of an established flow, original or reply direction.</summary>
    public void CheckEstablished(in FlowSpace.Flow f, string natIp, uint natPort, bool reply, Wire.Verdict v)
    {
        Interlocked.Increment(ref _checked);
        var r = v.Rewritten;
        if (v.Action != Wire.VerdictAction.Translate || v.Created || r is null) { Violation(f, v, "established packet not translated by its entry"); return; }
        bool ok = reply
            ? v.Direction == Wire.PacketDirection.Reply && r.DstAddress == f.Src && r.DstPort == f.SrcPort && r.SrcAddress == f.Dst
            : v.Direction == Wire.PacketDirection.Original && r.SrcAddress == natIp && r.SrcPort == natPort && r.DstAddress == f.Dst;
        if (!ok) Violation(f, v, reply ? "reply not rewritten back to the client" : "original not rewritten to its mapping");
    }

    public void Violation(in FlowSpace.Flow f, Wire.Verdict v, string what)
    {
        Interlocked.Increment(ref _violations);
        lock (_lock)
            if (_examples.Count < 10)
                _examples.Add($"{what}: udp {f.Src}:{f.SrcPort} -> {f.Dst}:{f.DstPort}: {v.Action} {v.DropReason} " +
                              $"rewritten {v.Rewritten?.SrcAddress}:{v.Rewritten?.SrcPort} -> {v.Rewritten?.DstAddress}:{v.Rewritten?.DstPort} created={v.Created}");
    }

    private static int Class(uint port) => port < 512 ? 0 : port < 1024 ? 1 : 2;
}
