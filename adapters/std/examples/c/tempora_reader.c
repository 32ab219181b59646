/*
 * A small reader of the tempora time service, in C.
 *
 *   tempora_reader PATH
 *       one line: status=... time=NS earliest=NS latest=NS hlc=RAW@NODE (or hlc=-)
 *   tempora_reader PATH hammer THREADS STAMPS OUT
 *       THREADS threads each take STAMPS host-wide HLC timestamps; writes
 *       "THREAD RAW" lines to OUT, each thread's in the order taken
 *
 * Build: cc -std=c11 -O2 -I adapters/std/include tempora_reader.c -o tempora_reader -lpthread
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tempora_time.h"

typedef struct {
    tempora_segment *segment;
    uint64_t *stamps;
    long count;
    int failed;
} worker;

static void *hammer(void *arg) {
    worker *w = arg;
    for (long i = 0; i < w->count; i++) {
        if (tempora_hlc_now(w->segment, &w->stamps[i]) != 0) {
            w->failed = 1;
            break;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 && !(argc == 6 && strcmp(argv[2], "hammer") == 0)) {
        fprintf(stderr, "usage: %s PATH [hammer THREADS STAMPS OUT]\n", argv[0]);
        return 2;
    }
    tempora_segment s;
    int rc = tempora_open(&s, argv[1]);
    if (rc != 0) {
        fprintf(stderr, "tempora_open %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    if (argc == 2) {
        tempora_bounded_time t;
        tempora_read(&s, &t);
        printf("status=%s time=%llu earliest=%llu latest=%llu", tempora_status_name(t.status),
               (unsigned long long)t.time_ns, (unsigned long long)t.earliest_ns,
               (unsigned long long)t.latest_ns);
        uint64_t stamp;
        if (tempora_hlc_now(&s, &stamp) == 0)
            printf(" hlc=%llu@%u\n", (unsigned long long)stamp, s.node);
        else
            printf(" hlc=-\n");
        tempora_close(&s);
        return 0;
    }
    int threads = atoi(argv[3]);
    long stamps = atol(argv[4]);
    if (threads <= 0 || threads > 256 || stamps <= 0 || stamps > 10000000) {
        fprintf(stderr, "bad THREADS or STAMPS\n");
        return 2;
    }
    pthread_t tids[256];
    worker workers[256];
    for (int i = 0; i < threads; i++) {
        workers[i] = (worker){&s, calloc((size_t)stamps, sizeof(uint64_t)), stamps, 0};
        if (!workers[i].stamps || pthread_create(&tids[i], NULL, hammer, &workers[i]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", i);
            return 1;
        }
    }
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        failed |= workers[i].failed;
    }
    FILE *out = fopen(argv[5], "w");
    if (!out || failed) {
        fprintf(stderr, failed ? "an HLC stamp failed\n" : "cannot write the output\n");
        return 1;
    }
    for (int i = 0; i < threads; i++) {
        for (long k = 0; k < stamps; k++)
            fprintf(out, "%d %llu\n", i, (unsigned long long)workers[i].stamps[k]);
        free(workers[i].stamps);
    }
    fclose(out);
    tempora_close(&s);
    return 0;
}
