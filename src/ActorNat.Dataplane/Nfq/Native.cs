using System.Runtime.InteropServices;

namespace ActorNat.Dataplane.Nfq;

/// <summary>P/Invoke to Debian's libnetfilter_queue.so.1 (package libnetfilter-queue1) and the few libc calls around it.</summary>
internal static unsafe class Native
{
    private const string Lib = "libnetfilter_queue.so.1";
    public const ushort AfInet = 2;
    public const byte CopyPacket = 2;            // NFQNL_COPY_PACKET
    public const uint FlagFailOpen = 1;          // NFQA_CFG_F_FAIL_OPEN
    public const uint NfDrop = 0, NfAccept = 1;
    public const int CloneNewNet = 0x40000000;

    [DllImport(Lib)] public static extern IntPtr nfq_open();
    [DllImport(Lib)] public static extern int nfq_close(IntPtr h);
    [DllImport(Lib)] public static extern int nfq_unbind_pf(IntPtr h, ushort pf);
    [DllImport(Lib)] public static extern int nfq_bind_pf(IntPtr h, ushort pf);
    [DllImport(Lib)] public static extern IntPtr nfq_create_queue(IntPtr h, ushort num, delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int> cb, IntPtr data);
    [DllImport(Lib)] public static extern int nfq_destroy_queue(IntPtr qh);
    [DllImport(Lib)] public static extern int nfq_handle_packet(IntPtr h, byte* buf, int len);
    [DllImport(Lib)] public static extern int nfq_set_mode(IntPtr qh, byte mode, uint range);
    [DllImport(Lib)] public static extern int nfq_set_queue_maxlen(IntPtr qh, uint len);
    [DllImport(Lib)] public static extern int nfq_set_queue_flags(IntPtr qh, uint mask, uint flags);
    [DllImport(Lib)] public static extern int nfq_set_verdict2(IntPtr qh, uint id, uint verdict, uint mark, uint len, byte* buf);
    [DllImport(Lib)] public static extern int nfq_fd(IntPtr h);
    [DllImport(Lib)] public static extern IntPtr nfq_get_msg_packet_hdr(IntPtr nfad);
    [DllImport(Lib)] public static extern int nfq_get_payload(IntPtr nfad, byte** data);
    [DllImport(Lib)] public static extern uint nfq_get_nfmark(IntPtr nfad);

    [DllImport("libc", SetLastError = true)] public static extern nint recv(int fd, byte* buf, nint len, int flags);
    [DllImport("libc", SetLastError = true)] public static extern int setns(int fd, int nstype);
    [DllImport("libc", SetLastError = true)] public static extern int setsockopt(int fd, int level, int name, void* value, uint len);
}
