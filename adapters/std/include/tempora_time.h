/*
 * tempora_time.h: read the tempora time service from C (C11, Linux, GCC or Clang).
 *
 * A running `tempora run` daemon keeps two one-page files (default /dev/shm/tempora and
 * /dev/shm/tempora.hlc). This header reads bounded time from the first and takes
 * host-wide hybrid logical clock timestamps on the second, with the same protocol as
 * tempora_std::timeservice::Reader (layout version 1; docs/architecture.md has the table,
 * docs/time-service.md the usage):
 *
 *     tempora_segment s;
 *     if (tempora_open(&s, "/dev/shm/tempora") == 0) {
 *         tempora_bounded_time t;
 *         tempora_read(&s, &t);          // t.earliest_ns <= true time <= t.latest_ns
 *         uint64_t stamp;
 *         if (tempora_hlc_now(&s, &stamp) == 0) { ... }  // needs write access to .hlc
 *         tempora_close(&s);
 *     }
 *
 * Needs POSIX (clock_gettime, mmap, O_CLOEXEC): compile with -std=gnu11, or define
 * _POSIX_C_SOURCE 200809L before the first #include.
 *
 * Every word is a native-endian uint64_t accessed with C11 atomics. No call here makes
 * a system call except tempora_open/close; tempora_read is one clock_gettime (vDSO) and
 * a few loads.
 */
#ifndef TEMPORA_TIME_H
#define TEMPORA_TIME_H

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

__extension__ typedef __int128 tempora_i128_;
__extension__ typedef unsigned __int128 tempora_u128_;

#define TEMPORA_SEGMENT_BYTES 4096u
#define TEMPORA_TIME_MAGIC 0x7441524f504d4554ull /* "TEMPORAt" */
#define TEMPORA_HLC_MAGIC 0x6841524f504d4554ull  /* "TEMPORAh" */
#define TEMPORA_LAYOUT_VERSION 1u
#define TEMPORA_RATE_SHIFT 40

/* Word indices (byte offset = index * 8) in the time segment. */
enum {
    TEMPORA_W_MAGIC = 0,
    TEMPORA_W_VERSION = 1,
    TEMPORA_W_SIZE = 2,
    TEMPORA_W_CLOCK_ID = 3, /* 0: corrections are against CLOCK_REALTIME */
    TEMPORA_W_PID = 4,
    TEMPORA_W_GENERATION = 5,
    TEMPORA_W_STATE = 6, /* 1 while a daemon runs */
    TEMPORA_W_NODE = 7,
    TEMPORA_W_INTERVAL_NS = 8,
    TEMPORA_W_STALE_AFTER_NS = 9,
    TEMPORA_W_TAI_MINUS_UTC = 10,
    TEMPORA_W_MAX_OFFSET_NS = 11, /* the host's HLC max offset; 0: not set */
    TEMPORA_W_PUBLICATIONS = 16, /* latest publication n is in slot n % 2 */
    TEMPORA_W_HEARTBEAT_MONO_NS = 17,
    TEMPORA_W_SOURCE = 24, /* 64 bytes, UTF-8, NUL-padded */
    TEMPORA_W_SLOTS = 32,
    TEMPORA_SLOT_WORDS = 16,
    /* within a slot */
    TEMPORA_S_SEQ = 0,
    TEMPORA_S_PUBLICATION = 1,
    TEMPORA_S_AT = 2,
    TEMPORA_S_OFFSET = 3,
    TEMPORA_S_RATE_Q40 = 4,
    TEMPORA_S_BOUND = 5,
    TEMPORA_S_GROWTH_Q40 = 6,
    TEMPORA_S_EXPIRES = 7,
    TEMPORA_S_STATUS = 8,
    /* in the HLC segment */
    TEMPORA_H_STATE = 8,
};

typedef enum {
    TEMPORA_UNKNOWN = 0,
    TEMPORA_SYNCHRONIZED = 1,
    TEMPORA_HOLDOVER = 2,
    TEMPORA_FREE_RUNNING = 3,
} tempora_status;

/* One reading: the true time (UTC, ns since 1970) lies in [earliest_ns, latest_ns]. */
typedef struct {
    uint64_t time_ns;
    uint64_t earliest_ns;
    uint64_t latest_ns;
    tempora_status status;
} tempora_bounded_time;

typedef struct {
    _Atomic uint64_t *time; /* mapped read-only: only ever loaded */
    _Atomic uint64_t *hlc;  /* NULL when this user may not write PATH.hlc */
    uint32_t node;          /* the host's HLC node id */
} tempora_segment;

static inline const char *tempora_status_name(tempora_status s) {
    switch (s) {
    case TEMPORA_SYNCHRONIZED: return "synchronized";
    case TEMPORA_HOLDOVER: return "holdover";
    case TEMPORA_FREE_RUNNING: return "free-running";
    default: return "unknown";
    }
}

static inline uint64_t tempora_realtime_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline _Atomic uint64_t *tempora_map_(const char *path, int writable) {
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    /* Shorter than a page: touching past its end would raise SIGBUS. */
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)TEMPORA_SEGMENT_BYTES)
        p = mmap(NULL, TEMPORA_SEGMENT_BYTES, PROT_READ | (writable ? PROT_WRITE : 0),
                 MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : (_Atomic uint64_t *)p;
}

static inline int tempora_identity_ok_(_Atomic uint64_t *w, uint64_t magic) {
    return atomic_load_explicit(&w[TEMPORA_W_MAGIC], memory_order_relaxed) == magic &&
           atomic_load_explicit(&w[TEMPORA_W_VERSION], memory_order_relaxed) ==
               TEMPORA_LAYOUT_VERSION &&
           atomic_load_explicit(&w[TEMPORA_W_SIZE], memory_order_relaxed) ==
               TEMPORA_SEGMENT_BYTES;
}

/* Maps PATH (read-only) and PATH.hlc (read-write if permitted). 0, or -errno
 * (-EPROTO: not a tempora segment of this layout version). */
static inline int tempora_open(tempora_segment *s, const char *path) {
    s->time = tempora_map_(path, 0);
    s->hlc = NULL;
    s->node = 0;
    if (!s->time) return -errno;
    if (!tempora_identity_ok_(s->time, TEMPORA_TIME_MAGIC) ||
        atomic_load_explicit(&s->time[TEMPORA_W_CLOCK_ID], memory_order_relaxed) != 0) {
        munmap((void *)s->time, TEMPORA_SEGMENT_BYTES);
        s->time = NULL;
        return -EPROTO;
    }
    s->node = (uint32_t)atomic_load_explicit(&s->time[TEMPORA_W_NODE], memory_order_relaxed);
    char hlc_path[4096];
    if (snprintf(hlc_path, sizeof hlc_path, "%s.hlc", path) < (int)sizeof hlc_path) {
        s->hlc = tempora_map_(hlc_path, 1);
        if (s->hlc && !tempora_identity_ok_(s->hlc, TEMPORA_HLC_MAGIC)) {
            munmap((void *)s->hlc, TEMPORA_SEGMENT_BYTES);
            s->hlc = NULL;
        }
    }
    return 0;
}

static inline void tempora_close(tempora_segment *s) {
    if (s->time) munmap((void *)s->time, TEMPORA_SEGMENT_BYTES);
    if (s->hlc) munmap((void *)s->hlc, TEMPORA_SEGMENT_BYTES);
    s->time = s->hlc = NULL;
}

/* Bounded time now. Unknown (earliest 0, latest UINT64_MAX) when the daemon stopped,
 * died (its last publication expired) or restarted and has not published yet. */
static inline void tempora_read(const tempora_segment *s, tempora_bounded_time *out) {
    _Atomic uint64_t *w = s->time;
    uint64_t c[7] = {0};
    int ok = 0;
    for (int tries = 0; tries < 1000 && !ok; tries++) {
        uint64_t n = atomic_load_explicit(&w[TEMPORA_W_PUBLICATIONS], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        _Atomic uint64_t *slot = &w[TEMPORA_W_SLOTS + (n % 2) * TEMPORA_SLOT_WORDS];
        uint64_t seq = atomic_load_explicit(&slot[TEMPORA_S_SEQ], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t publication =
            atomic_load_explicit(&slot[TEMPORA_S_PUBLICATION], memory_order_relaxed);
        for (int i = 0; i < 7; i++)
            c[i] = atomic_load_explicit(&slot[TEMPORA_S_AT + i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        ok = seq % 2 == 0 &&
             atomic_load_explicit(&slot[TEMPORA_S_SEQ], memory_order_relaxed) == seq &&
             publication == n;
    }
    uint64_t now = tempora_realtime_ns();
    uint64_t at = c[0], bound0 = c[3], growth_q40 = c[4], expires = c[5], status = c[6];
    out->time_ns = now;
    if (!ok || status == TEMPORA_UNKNOWN || status > 3 || now < at || now > expires) {
        out->earliest_ns = 0;
        out->latest_ns = UINT64_MAX;
        out->status = TEMPORA_UNKNOWN;
        return;
    }
    uint64_t age = now - at;
    tempora_i128_ offset = (tempora_i128_)(int64_t)c[1] +
                      (((tempora_i128_)(int64_t)c[2] * (tempora_i128_)age) >> TEMPORA_RATE_SHIFT);
    tempora_i128_ t = (tempora_i128_)now - offset;
    tempora_u128_ bound =
        (tempora_u128_)bound0 +
        (((tempora_u128_)growth_q40 * age) >> TEMPORA_RATE_SHIFT) + 1;
    out->time_ns = t < 0 ? 0 : t > (tempora_i128_)UINT64_MAX ? UINT64_MAX : (uint64_t)t;
    out->earliest_ns = (tempora_i128_)bound >= t ? 0 : (uint64_t)(t - (tempora_i128_)bound);
    tempora_u128_ latest = (tempora_u128_)out->time_ns + bound;
    out->latest_ns = latest > UINT64_MAX ? UINT64_MAX : (uint64_t)latest;
    out->status = (tempora_status)status;
}

/* A host-wide HLC timestamp (packed: ns since 1970 with an 8-bit counter in the low
 * bits; the node is s->node): greater than every one taken before on this host, by any
 * process. 0, -EACCES without write access to PATH.hlc, -EOVERFLOW in the year 2554. */
static inline int tempora_hlc_now(const tempora_segment *s, uint64_t *out) {
    if (!s->hlc) return -EACCES;
    _Atomic uint64_t *word = &s->hlc[TEMPORA_H_STATE];
    uint64_t tick = tempora_realtime_ns() & ~(uint64_t)0xff;
    uint64_t current = atomic_load_explicit(word, memory_order_relaxed);
    for (;;) {
        uint64_t next;
        if (tick > current)
            next = tick;
        else if (current == UINT64_MAX)
            return -EOVERFLOW;
        else
            next = current + 1;
        if (atomic_compare_exchange_weak_explicit(word, &current, next, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *out = next;
            return 0;
        }
    }
}

#endif /* TEMPORA_TIME_H */
