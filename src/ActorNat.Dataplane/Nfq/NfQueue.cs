using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ActorNat.Dataplane.Nfq;

/// <summary>What the queue hands over: the packet id, the netfilter hook it was queued at, its mark, and its bytes (valid during the call only).</summary>
public delegate void PacketHandler(NfQueue queue, uint id, int hook, uint mark, Span<byte> packet);

/// <summary>
/// One NFQUEUE queue, opened in a network namespace (the netlink socket is created with the calling thread inside the
/// namespace and stays bound to it; the process, and its gRPC sockets on 127.0.0.1, stay in the root namespace).
/// A dedicated thread receives; verdicts may be given from any thread.
/// </summary>
public sealed unsafe class NfQueue : IDisposable
{
    public const int HookPreRouting = 0, HookForward = 2, HookLocalOut = 3, HookPostRouting = 4;
    private const int SolSocket = 1, SoRcvBufForce = 33, SoRcvTimeo = 20;
    private readonly IntPtr _h, _qh;
    private readonly int _fd;
    private readonly PacketHandler _handler;
    private readonly object _send = new();
    private GCHandle _self;
    private Thread? _thread;
    private volatile bool _stop;

    public ushort Number { get; }
    public long ReceiveErrors { get; private set; }

    private NfQueue(ushort number, PacketHandler handler, string? netns, uint maxLen, bool failOpen)
    {
        Number = number;
        _handler = handler;
        _self = GCHandle.Alloc(this);
        _h = InNamespace(netns, Native.nfq_open);
        if (_h == IntPtr.Zero) throw new InvalidOperationException("nfq_open failed (root and the nfnetlink_queue kernel module are needed)");
        Native.nfq_unbind_pf(_h, Native.AfInet); // no-ops on current kernels, needed on old ones
        Native.nfq_bind_pf(_h, Native.AfInet);
        _qh = Native.nfq_create_queue(_h, number, &OnPacket, GCHandle.ToIntPtr(_self));
        if (_qh == IntPtr.Zero)
        {
            Native.nfq_close(_h);
            throw new InvalidOperationException($"nfq_create_queue({number}) failed: is another process bound to queue {number}?");
        }
        if (Native.nfq_set_mode(_qh, Native.CopyPacket, 0xffff) < 0) throw new InvalidOperationException("nfq_set_mode failed");
        Native.nfq_set_queue_maxlen(_qh, maxLen);
        if (failOpen) Native.nfq_set_queue_flags(_qh, Native.FlagFailOpen, Native.FlagFailOpen);
        _fd = Native.nfq_fd(_h);
        int buf = 16 << 20;
        Native.setsockopt(_fd, SolSocket, SoRcvBufForce, &buf, 4);
        var timeout = stackalloc long[2] { 0, 200_000 }; // 200 ms: the receive loop checks for stop this often
        Native.setsockopt(_fd, SolSocket, SoRcvTimeo, timeout, 16);
    }

    public static NfQueue Open(ushort number, PacketHandler handler, string? netns, uint maxLen = 4096, bool failOpen = false) =>
        new(number, handler, netns, maxLen, failOpen);

    /// <summary>Runs <paramref name="open"/> with this thread in the named namespace (/run/netns/NAME), then returns to its own.</summary>
    private static T InNamespace<T>(string? netns, Func<T> open)
    {
        if (string.IsNullOrEmpty(netns)) return open();
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var own = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle(Path.Combine("/run/netns", netns));
                if (Native.setns((int)target.DangerousGetHandle(), Native.CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns into network namespace {netns} failed (errno {Marshal.GetLastPInvokeError()})");
                try { result = open(); }
                finally { Native.setns((int)own.DangerousGetHandle(), Native.CloneNewNet); }
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        if (error is FileNotFoundException) throw new InvalidOperationException($"no network namespace {netns} (ip netns list)");
        if (error is not null) throw error;
        return result;
    }

    public void Start()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = $"nfqueue-{Number}" };
        _thread.Start();
    }

    private void Loop()
    {
        var buf = GC.AllocateArray<byte>(256 * 1024, pinned: true);
        fixed (byte* p = buf)
        {
            while (!_stop)
            {
                var n = Native.recv(_fd, p, buf.Length, 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is 11 or 4) continue; // EAGAIN (the receive timeout), EINTR
                    ReceiveErrors++;                // ENOBUFS: the kernel dropped messages for a full socket
                    continue;
                }
                Native.nfq_handle_packet(_h, p, (int)n);
            }
        }
    }

    [UnmanagedCallersOnly]
    private static int OnPacket(IntPtr qh, IntPtr nfmsg, IntPtr nfad, IntPtr data)
    {
        var self = (NfQueue)GCHandle.FromIntPtr(data).Target!;
        var hdr = (byte*)Native.nfq_get_msg_packet_hdr(nfad);
        uint id = BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(hdr, 4));
        int hook = hdr[6];
        byte* payload;
        int len = Native.nfq_get_payload(nfad, &payload);
        uint mark = Native.nfq_get_nfmark(nfad);
        try
        {
            self._handler(self, id, hook, mark, len > 0 ? new Span<byte>(payload, len) : Span<byte>.Empty);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"dataplane: packet {id}: {e.GetType().Name}: {e.Message}; dropped");
            self.Verdict(id, Native.NfDrop, 0, ReadOnlySpan<byte>.Empty);
        }
        return 0;
    }

    /// <summary>NF_ACCEPT with the (rewritten) packet and the mark, or NF_DROP. Safe from any thread.</summary>
    public void Accept(uint id, ReadOnlySpan<byte> packet, uint mark) => Verdict(id, Native.NfAccept, mark, packet);
    public void Drop(uint id) => Verdict(id, Native.NfDrop, 0, ReadOnlySpan<byte>.Empty);

    private void Verdict(uint id, uint verdict, uint mark, ReadOnlySpan<byte> packet)
    {
        fixed (byte* p = packet)
        {
            lock (_send) Native.nfq_set_verdict2(_qh, id, verdict, mark, (uint)packet.Length, packet.Length == 0 ? null : p);
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread?.Join(2000);
        Native.nfq_destroy_queue(_qh);
        Native.nfq_close(_h);
        if (_self.IsAllocated) _self.Free();
    }
}
