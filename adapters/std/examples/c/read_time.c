/*
 * Reads bounded time and takes two host-wide HLC timestamps through a running
 * `tempora run` (the time service), from C: the same as examples/read_time.rs.
 *
 * Build: cc -std=c11 -O2 -I adapters/std/include adapters/std/examples/c/read_time.c -o read_time
 * Run:   ./read_time [PATH]   (default: $TEMPORA_TIME_SERVICE, else /dev/shm/tempora)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tempora_time.h"

/* An HLC timestamp in tempora's text form: SECONDS.NANOS+COUNTER@NODE. */
static void print_stamp(uint64_t raw, uint32_t node) {
    uint64_t ns = raw & ~(uint64_t)0xff; /* the low 8 bits are the logical counter */
    printf("hlc: %llu.%09llu+%u@%u\n", (unsigned long long)(ns / 1000000000u),
           (unsigned long long)(ns % 1000000000u), (unsigned)(raw & 0xff), node);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("TEMPORA_TIME_SERVICE");
    if (!path) path = "/dev/shm/tempora";

    tempora_segment s;
    int rc = tempora_open(&s, path); /* maps the daemon's page read-only */
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(-rc));
        return 1;
    }
    tempora_bounded_time t;
    tempora_read(&s, &t); /* one vDSO clock read plus the published correction */
    printf("status: %s\n", tempora_status_name(t.status));
    if (t.status == TEMPORA_UNKNOWN) {
        /* The daemon stopped, died or has not published yet: the reading is unbounded. */
        puts("no live daemon: do not trust this time");
    } else {
        /* The true time lies inside, in ns since 1970 (UTC). */
        printf("interval: [%llu, %llu]\n", (unsigned long long)t.earliest_ns,
               (unsigned long long)t.latest_ns);
        /* Strictly increasing across every process on the host; needs write access to
         * PATH.hlc (see --time-service-group). */
        uint64_t first, second;
        if (tempora_hlc_now(&s, &first) == 0 && tempora_hlc_now(&s, &second) == 0) {
            print_stamp(first, s.node);
            print_stamp(second, s.node);
        } else {
            puts("hlc: - (no write access to PATH.hlc)");
        }
    }
    tempora_close(&s);
    return 0;
}
