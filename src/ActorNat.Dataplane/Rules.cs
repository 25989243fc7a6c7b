using System.Diagnostics;

namespace ActorNat.Dataplane;

/// <summary>
/// The netfilter rules that hand packets to the data plane, in the router's namespace: the kernel's conntrack kept out
/// of the way (raw NOTRACK), every arriving packet queued before routing (mangle PREROUTING: decided there, a reply's
/// destination rewritten), and forwarded packets queued after routing (mangle FORWARD: the original direction's
/// source rewritten) unless PREROUTING already translated them as replies (the mark), and the router's own packets
/// (mangle OUTPUT: decided and rewritten there, since they cross neither PREROUTING nor FORWARD).
/// Removed again on exit.
/// </summary>
public sealed class Rules(string? netns, string queueSpec, uint mark, TextWriter log)
{
    private readonly List<string[]> _added = [];

    public IReadOnlyList<string[]> Specs =>
    [
        ["-t", "raw", "-I", "PREROUTING", "-j", "CT", "--notrack"],
        ["-t", "raw", "-I", "OUTPUT", "-j", "CT", "--notrack"],
        ["-t", "mangle", "-A", "PREROUTING", "!", "-i", "lo", "-j", "NFQUEUE", .. Queue()],
        ["-t", "mangle", "-A", "FORWARD", "-m", "mark", "!", "--mark", $"0x{mark:x}/0x{mark:x}", "-j", "NFQUEUE", .. Queue()],
        // The router's own packets (its answers to connections addressed to it): decided and rewritten there.
        ["-t", "mangle", "-A", "OUTPUT", "!", "-o", "lo", "-j", "NFQUEUE", .. Queue()],
    ];

    private string[] Queue() => queueSpec.Contains(':') ? ["--queue-balance", queueSpec] : ["--queue-num", queueSpec];

    private string? _acceptLocal;

    public void Install()
    {
        CheckForwarding();
        // An offloaded flow's source is rewritten before routing: to the router's own address, which the kernel
        // otherwise treats as a martian source arriving from outside.
        _acceptLocal = Exec("sysctl", ["-n", "net.ipv4.conf.all.accept_local"]).Trim();
        Exec("sysctl", ["-qw", "net.ipv4.conf.all.accept_local=1"]);
        foreach (var spec in Specs)
        {
            Run(["-w", .. spec]);
            _added.Add(spec);
        }
    }

    public void Remove()
    {
        foreach (var spec in Enumerable.Reverse(_added))
        {
            var del = spec.ToArray();
            int i = Array.FindIndex(del, a => a is "-A" or "-I");
            del[i] = "-D";
            try { Run(["-w", .. del]); } catch (InvalidOperationException e) { log.WriteLine($"dataplane: {e.Message}"); }
        }
        _added.Clear();
        if (_acceptLocal is not null)
        {
            try { Exec("sysctl", ["-qw", $"net.ipv4.conf.all.accept_local={_acceptLocal}"]); } catch (InvalidOperationException e) { log.WriteLine($"dataplane: {e.Message}"); }
            _acceptLocal = null;
        }
    }

    private void CheckForwarding()
    {
        var forward = Exec("sysctl", ["-n", "net.ipv4.ip_forward"]).Trim();
        if (forward != "1")
            throw new InvalidOperationException($"net.ipv4.ip_forward is {forward} in {(netns ?? "this namespace")}: the router does not forward (sysctl -w net.ipv4.ip_forward=1)");
    }

    private void Run(string[] args) => Exec("iptables", args);

    private string Exec(string cmd, string[] args)
    {
        var psi = new ProcessStartInfo(netns is null ? cmd : "ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (netns is not null) foreach (var a in (string[])["netns", "exec", netns, cmd]) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{cmd} {string.Join(' ', args)} failed: {stderr.Trim()}");
        return stdout.Result;
    }
}
