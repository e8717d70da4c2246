/* taplink: a point-to-point Ethernet "cable" with a fixed one-way delay.
 *
 * Creates two TAP devices and copies every frame read from one to the other after a fixed
 * delay, preserving order. The lab uses it instead of a veth pair because this kernel has no
 * netem: the script moves each TAP into its namespace afterwards (the fds stay valid).
 *
 * usage: taplink DEV_A DEV_B DELAY_MS [QUEUE_FRAMES]
 *        DELAY_MS is either one number (both directions) or A2B:B2A.
 * Prints "ready" on stdout once both devices exist. Exits 0 on SIGTERM/SIGINT/SIGHUP and
 * prints per-direction counters on stderr. When a direction's queue is full, new frames are
 * dropped (tail drop, like a full router queue).
 *
 * Build: cc -O2 -Wall -o taplink taplink.c    (no dependencies)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES 2048 /* TAP without offloads never hands us more than MTU + 14 */
#define DEFAULT_QUEUE 1024
#define MAX_QUEUE 65536

struct frame {
    int64_t due_ns;
    uint16_t len;
    unsigned char data[SLOT_BYTES];
};

struct queue {
    struct frame *slots;
    unsigned cap, head, count;
    int64_t delay_ns;
    unsigned long long rx, tx, dropped_full, dropped_err, oversize;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_tap(const char *name)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        perror("taplink: open /dev/net/tun");
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "taplink: device name too long: %s\n", name);
        close(fd);
        return -1;
    }
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "taplink: TUNSETIFF %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int parse_ms(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || v < 0 || v > 600000)
        return -1;
    *out = v;
    return (int)(end - s);
}

/* Reads every frame the device has ready (bounded per call so the other direction is served). */
static void drain(int fd, struct queue *q, int64_t now)
{
    for (int i = 0; i < 256; ++i) {
        unsigned char *dst;
        unsigned char scratch[SLOT_BYTES];
        int full = q->count == q->cap;
        struct frame *f = NULL;
        if (!full) {
            f = &q->slots[(q->head + q->count) % q->cap];
            dst = f->data;
        } else {
            dst = scratch;
        }
        ssize_t n = read(fd, dst, SLOT_BYTES);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or the device is down: nothing to read */
        }
        if (n == 0)
            return;
        q->rx++;
        if (full) {
            q->dropped_full++;
            continue;
        }
        if (n >= SLOT_BYTES) { /* truncated: cannot forward it faithfully */
            q->oversize++;
            continue;
        }
        f->len = (uint16_t)n;
        f->due_ns = now + q->delay_ns;
        q->count++;
    }
}

/* Writes every frame that is due; returns 1 if the device would block (wait for POLLOUT). */
static int flush(int fd, struct queue *q, int64_t now)
{
    while (q->count > 0) {
        struct frame *f = &q->slots[q->head];
        if (f->due_ns > now)
            return 0;
        ssize_t n = write(fd, f->data, f->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 1;
        if (n < 0)
            q->dropped_err++; /* e.g. EIO while the peer device is still down */
        else
            q->tx++;
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s DEV_A DEV_B DELAY_MS|A2B_MS:B2A_MS [QUEUE_FRAMES]\n", argv[0]);
        return 2;
    }
    long a2b, b2a, cap = DEFAULT_QUEUE;
    int used = parse_ms(argv[3], &a2b);
    if (used < 0) {
        fprintf(stderr, "taplink: bad delay: %s\n", argv[3]);
        return 2;
    }
    if (argv[3][used] == ':') {
        int used2 = parse_ms(argv[3] + used + 1, &b2a);
        if (used2 < 0 || argv[3][used + 1 + used2] != '\0') {
            fprintf(stderr, "taplink: bad delay: %s\n", argv[3]);
            return 2;
        }
    } else if (argv[3][used] == '\0') {
        b2a = a2b;
    } else {
        fprintf(stderr, "taplink: bad delay: %s\n", argv[3]);
        return 2;
    }
    if (argc == 5) {
        char *end;
        cap = strtol(argv[4], &end, 10);
        if (*end != '\0' || cap < 1 || cap > MAX_QUEUE) {
            fprintf(stderr, "taplink: bad queue length: %s\n", argv[4]);
            return 2;
        }
    }

    /* Signals are blocked except inside ppoll(), so a SIGTERM can never be lost between the
     * check of g_stop and going to sleep. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int fd[2];
    fd[0] = open_tap(argv[1]);
    if (fd[0] < 0)
        return 1;
    fd[1] = open_tap(argv[2]);
    if (fd[1] < 0) {
        close(fd[0]);
        return 1;
    }

    struct queue q[2]; /* q[0]: A -> B, q[1]: B -> A */
    memset(q, 0, sizeof q);
    q[0].delay_ns = a2b * 1000000LL;
    q[1].delay_ns = b2a * 1000000LL;
    for (int i = 0; i < 2; ++i) {
        q[i].cap = (unsigned)cap;
        q[i].slots = malloc(sizeof(struct frame) * (size_t)cap);
        if (!q[i].slots) {
            fprintf(stderr, "taplink: out of memory\n");
            return 1;
        }
    }

    printf("ready\n");
    fflush(stdout);

    int blocked[2] = {0, 0}; /* output side would block: wait for POLLOUT */
    while (!g_stop) {
        int64_t now = now_ns();
        /* q[0] is written to fd[1], q[1] to fd[0] */
        blocked[1] = flush(fd[1], &q[0], now);
        blocked[0] = flush(fd[0], &q[1], now);

        int64_t next = -1;
        for (int i = 0; i < 2; ++i) {
            if (q[i].count > 0 && !blocked[!i]) {
                int64_t due = q[i].slots[q[i].head].due_ns;
                if (next < 0 || due < next)
                    next = due;
            }
        }
        struct pollfd p[2];
        for (int i = 0; i < 2; ++i) {
            p[i].fd = fd[i];
            p[i].events = POLLIN | (blocked[i] ? POLLOUT : 0);
            p[i].revents = 0;
        }
        struct timespec ts, *tsp = NULL;
        if (next >= 0) {
            int64_t wait = next - now;
            if (wait < 0)
                wait = 0;
            ts.tv_sec = wait / 1000000000LL;
            ts.tv_nsec = wait % 1000000000LL;
            tsp = &ts;
        }
        int r = ppoll(p, 2, tsp, &waitmask);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("taplink: ppoll");
            break;
        }
        now = now_ns();
        for (int i = 0; i < 2; ++i) {
            if (p[i].revents & (POLLERR | POLLNVAL)) {
                fprintf(stderr, "taplink: device %s failed\n", argv[1 + i]);
                g_stop = 1;
            }
            if (p[i].revents & POLLIN)
                drain(fd[i], &q[i], now);
        }
    }

    for (int i = 0; i < 2; ++i)
        fprintf(stderr,
                "taplink: %s->%s rx=%llu tx=%llu dropped_full=%llu dropped_err=%llu "
                "oversize=%llu\n",
                argv[1 + i], argv[2 - i], q[i].rx, q[i].tx, q[i].dropped_full, q[i].dropped_err,
                q[i].oversize);
    close(fd[0]);
    close(fd[1]);
    free(q[0].slots);
    free(q[1].slots);
    return 0;
}
