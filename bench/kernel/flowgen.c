/* flowgen: a bounded raw-socket UDP generator for bench/kernel/run.sh (ActorNat).
 *
 *   flowgen SRC_IP SECONDS MAX_PACKETS THREADS
 *
 * Every packet opens a new UDP flow: SRC_IP:sport -> 192.0.2.D:dport with (sport, D, dport) walking a counter
 * (sport 1024..65023 fastest, then D in 1..254, then dport), so through MASQUERADE every flow keeps its source port and
 * no two flows share a server endpoint: the kernel's new-connection path, not port search, is measured.
 * Each thread owns one raw socket (IP_HDRINCL) and sends 64 packets per sendmmsg(2). The run stops after SECONDS or
 * MAX_PACKETS in total, whichever comes first (hard caps: 30 s, 20M packets, 8 threads). Prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BURST = 64, PAYLOAD = 18, LEN = 20 + 8 + PAYLOAD, MAXT = 8 };

struct job { int id; long quota; double deadline; uint32_t src; long sent; };
static int threads;

static double mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *run(void *p)
{
    struct job *j = p;
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(j->id % 2, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) { perror("flowgen: socket"); return NULL; }
    int on = 1; setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on);
    unsigned char pkt[BURST][LEN]; struct iovec iov[BURST]; struct mmsghdr msg[BURST]; struct sockaddr_in dst[BURST];
    memset(pkt, 0, sizeof pkt); memset(msg, 0, sizeof msg); memset(dst, 0, sizeof dst);
    uint64_t k = j->id;
    while (j->sent < j->quota) {
        int n = j->quota - j->sent < BURST ? (int)(j->quota - j->sent) : BURST;
        for (int i = 0; i < n; i++, k += threads) {
            struct iphdr *ip = (struct iphdr *)pkt[i]; struct udphdr *udp = (struct udphdr *)(pkt[i] + 20);
            uint32_t d = 1 + (uint32_t)((k / 64000) % 254);
            ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP; ip->tot_len = htons(LEN);
            ip->saddr = j->src; ip->daddr = htonl((192u << 24) | (0u << 16) | (2u << 8) | d);
            udp->source = htons(1024 + k % 64000); udp->dest = htons(1 + (k / (64000ull * 254)) % 65000);
            udp->len = htons(8 + PAYLOAD); udp->check = 0;
            dst[i].sin_family = AF_INET; dst[i].sin_addr.s_addr = ip->daddr;
            iov[i].iov_base = pkt[i]; iov[i].iov_len = LEN;
            msg[i].msg_hdr.msg_iov = &iov[i]; msg[i].msg_hdr.msg_iovlen = 1;
            msg[i].msg_hdr.msg_name = &dst[i]; msg[i].msg_hdr.msg_namelen = sizeof dst[i];
        }
        int r = sendmmsg(fd, msg, n, 0);
        if (r > 0) j->sent += r; else usleep(50);
        if (r > 0 && r < n) k -= (uint64_t)(n - r) * threads; /* resend the unsent tail as the same flows */
        if ((j->sent & 4095) < BURST && mono() > j->deadline) break;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "usage: flowgen SRC_IP SECONDS MAX_PACKETS THREADS\n"); return 2; }
    struct in_addr src; if (!inet_aton(argv[1], &src)) { fprintf(stderr, "flowgen: bad SRC_IP %s\n", argv[1]); return 2; }
    double secs = atof(argv[2]); long max = atol(argv[3]); threads = atoi(argv[4]);
    if (secs <= 0 || secs > 30) secs = 30;
    if (max <= 0 || max > 20000000) max = 20000000;
    if (threads < 1 || threads > MAXT) threads = 1;
    struct job jobs[MAXT]; pthread_t th[MAXT];
    double t0 = mono();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ .id = i, .quota = max / threads + (i < max % threads), .deadline = t0 + secs, .src = src.s_addr };
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) { pthread_join(th[i], NULL); total += jobs[i].sent; }
    double el = mono() - t0;
    printf("{\"sent\":%ld,\"threads\":%d,\"elapsed_s\":%.4f,\"pps\":%.0f}\n", total, threads, el, total / el);
    return 0;
}
