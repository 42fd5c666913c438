/*
 * lease.c: the cache stampede, across processes, through memcache.h:
 * mc_fetch and mc_invalidate against a real memcached.
 *
 *   lease SERVER
 *
 * 1. 16 processes fetch a missing key whose computation sleeps 200 ms and
 *    counts its runs in another key: it ran once, all 16 got its value.
 * 2. After mc_invalidate, 16 processes fetch it again: each gets the
 *    stale value or the new one, one recomputed.
 * 3. A computation that fails: MC_NOTSTORED, nothing stored, no
 *    placeholder left: the next caller computes at once.
 * 4. A winner killed mid-computation: the others get a value within the
 *    lease (1 s) plus one computation.
 * 5. mc_lease_get's verdicts, for a loop of one's own: win on a miss, wait
 *    while the win is out, hit once stored with mc_cas; after
 *    mc_invalidate, win (the stale value) then stale for the others.
 * Each stage prints its figures (runs, fastest and slowest wait); times
 * are reported, never asserted: the runs and the values are.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define PROCS 16

static const char *spec;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* What a computation does: sleep, count its run, give the value. */
struct work {
    uint64_t handle;
    const char *counter;
    unsigned sleep_ms;
    int fail;
    int die;
    char value[32];
};

static uint32_t compute(void *user, struct mc_update_value *out) {
    struct work *w = user;
    uint64_t runs = 0;
    if (mc_incr(w->handle, w->counter, 1, &runs) == MC_NOTFOUND) {
        /* First run: create the counter (another process may race). */
        if (mc_add(w->handle, w->counter, "1", 1, 0, 0) != MC_OK) {
            mc_incr(w->handle, w->counter, 1, &runs);
        }
    }
    if (w->die) {
        _exit(3);
    }
    struct timespec pause = {w->sleep_ms / 1000, (long)(w->sleep_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    if (w->fail) {
        return 7;
    }
    snprintf(w->value, sizeof w->value, "computed by %d", (int)getpid());
    out->value = w->value;
    out->len = strlen(w->value);
    out->flags = 0;
    return 0;
}

static uint64_t open_handle(void) {
    uint64_t h = 0;
    if (mc_create(&spec, 1, &h) != MC_OK) {
        fprintf(stderr, "mc_create: %s\n", mc_last_error());
        _exit(2);
    }
    return h;
}

static uint64_t counter_value(uint64_t h, const char *counter) {
    void *v = NULL;
    size_t len = 0;
    if (mc_get(h, counter, &v, &len, NULL, NULL) != MC_OK) {
        return 0;
    }
    uint64_t n = strtoull(v, NULL, 10);
    mc_free(v);
    return n;
}

/*
 * PROCS processes fetch `key` at once; each writes "<ms waited> <value>"
 * to its pipe. Returns the values in `values`, the waits in `waits`.
 */
static void stampede(const char *key, const char *counter, struct mc_fetch_options *o,
                     unsigned sleep_ms, char values[PROCS][64], double waits[PROCS]) {
    int fds[PROCS][2];
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        if (pipe(fds[i]) != 0) {
            _exit(2);
        }
        pids[i] = fork();
        if (pids[i] == 0) {
            uint64_t h = open_handle();
            struct work w = {h, counter, sleep_ms, 0, 0, {0}};
            void *v = NULL;
            size_t len = 0;
            double t0 = now_ms();
            mc_result rc = mc_fetch(h, key, 300, o, compute, &w, &v, &len, NULL);
            char line[128];
            int n = snprintf(line, sizeof line, "%.1f %.*s", now_ms() - t0,
                             rc == MC_OK ? (int)len : 0, rc == MC_OK ? (char *)v : "");
            if (write(fds[i][1], line, (size_t)n) != n) {
                _exit(2);
            }
            _exit(rc == MC_OK ? 0 : 1);
        }
        close(fds[i][1]);
    }
    for (int i = 0; i < PROCS; i++) {
        char line[128] = {0};
        ssize_t n = read(fds[i][0], line, sizeof line - 1);
        close(fds[i][0]);
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        waits[i] = n > 0 ? strtod(line, NULL) : -1;
        const char *space = n > 0 ? strchr(line, ' ') : NULL;
        snprintf(values[i], 64, "%s", space ? space + 1 : "");
    }
}

static void report(const char *stage, uint64_t runs, double waits[PROCS]) {
    double lo = waits[0], hi = waits[0];
    for (int i = 1; i < PROCS; i++) {
        lo = waits[i] < lo ? waits[i] : lo;
        hi = waits[i] > hi ? waits[i] : hi;
    }
    printf("%s: %d processes, the computation ran %" PRIu64 " time(s), waits %.1f-%.1f ms\n",
           stage, PROCS, runs, lo, hi);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER\n", argv[0]);
        return 2;
    }
    spec = argv[1];
    uint64_t h = open_handle();
    char values[PROCS][64];
    double waits[PROCS];
    struct mc_fetch_options o = {5, 5000, 0};

    /* 1. The stampede on a missing key. */
    stampede("page", "runs", &o, 200, values, waits);
    CHECK_U64(counter_value(h, "runs"), 1);
    for (int i = 1; i < PROCS; i++) {
        CHECK_STR(values[i], values[0]);
    }
    CHECK(strncmp(values[0], "computed by ", 12) == 0);
    void *v = NULL;
    size_t len = 0;
    CHECK_RC(mc_get(h, "page", &v, &len, NULL, NULL), MC_OK);
    CHECK_MEM(v, len, values[0], strlen(values[0]));
    mc_free(v);
    report("miss", counter_value(h, "runs"), waits);

    /* 2. Stale-while-revalidate: every process returns at once. */
    char stale[64];
    snprintf(stale, sizeof stale, "%s", values[0]);
    CHECK_RC(mc_invalidate(h, "page", 0), MC_OK);
    stampede("page", "reruns", &o, 200, values, waits);
    CHECK_U64(counter_value(h, "reruns"), 1);
    /* Each got the stale value or the one recomputed (now stored). */
    CHECK_RC(mc_get(h, "page", &v, &len, NULL, NULL), MC_OK);
    char stored[64];
    snprintf(stored, sizeof stored, "%.*s", (int)len, (char *)v);
    mc_free(v);
    CHECK(strcmp(stored, stale) != 0);
    for (int i = 0; i < PROCS; i++) {
        CHECK(strcmp(values[i], stale) == 0 || strcmp(values[i], stored) == 0);
    }
    report("stale", counter_value(h, "reruns"), waits);
    CHECK_RC(mc_invalidate(h, "never-stored", 0), MC_NOTFOUND);

    /* 3. A computation that fails: nothing stored, no placeholder left. */
    struct work failing = {h, "failed-runs", 0, 1, 0, {0}};
    CHECK_RC(mc_fetch(h, "broken", 60, &o, compute, &failing, &v, &len, NULL), MC_NOTSTORED);
    CHECK_STR(mc_last_error(), "the compute function failed (it returned 7): nothing stored");
    CHECK_RC(mc_get(h, "broken", &v, &len, NULL, NULL), MC_NOTFOUND);
    struct work working = {h, "failed-runs", 0, 0, 0, {0}};
    CHECK_RC(mc_fetch(h, "broken", 60, &o, compute, &working, &v, &len, NULL), MC_OK);
    CHECK_MEM(v, len, working.value, strlen(working.value));
    mc_free(v);
    CHECK_U64(counter_value(h, "failed-runs"), 2);

    /* 4. A winner killed mid-computation: its lease (1 s) runs out and
     *    another process computes. */
    struct mc_fetch_options short_lease = {1, 5000, 0};
    pid_t dying = fork();
    if (dying == 0) {
        uint64_t hh = open_handle();
        struct work w = {hh, "killed-runs", 0, 0, 1, {0}};
        mc_fetch(hh, "orphan", 60, &short_lease, compute, &w, &v, &len, NULL);
        _exit(4);
    }
    int status = 0;
    waitpid(dying, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    struct work after = {h, "killed-runs", 0, 0, 0, {0}};
    double t0 = now_ms();
    CHECK_RC(mc_fetch(h, "orphan", 60, &short_lease, compute, &after, &v, &len, NULL), MC_OK);
    double waited = now_ms() - t0;
    CHECK_MEM(v, len, after.value, strlen(after.value));
    mc_free(v);
    CHECK_U64(counter_value(h, "killed-runs"), 2);
    printf("killed winner: the next caller got a value after %.0f ms (lease 1 s)\n", waited);

    /* 5. A loop of one's own: mc_lease_get's verdicts. */
    uint32_t state = 9, f = 9;
    uint64_t cas = 0, cas2 = 0;
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, &f, &cas, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_WIN);
    CHECK_U64(len, 0);
    mc_free(v);
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, NULL, &cas2, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_WAIT);
    mc_free(v);
    CHECK_RC(mc_cas(h, "own", "mine", 4, 3, 60, cas), MC_OK);
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, &f, NULL, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_HIT);
    CHECK_MEM(v, len, "mine", 4);
    CHECK_U64(f, 3);
    mc_free(v);
    CHECK_RC(mc_invalidate(h, "own", 0), MC_OK);
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, NULL, &cas, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_WIN);
    CHECK_MEM(v, len, "mine", 4);
    mc_free(v);
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, NULL, NULL, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_STALE);
    CHECK_MEM(v, len, "mine", 4);
    mc_free(v);
    /* The win given back (the stale item invalidated again): the next
     * caller wins. */
    CHECK_RC(mc_invalidate(h, "own", 0), MC_OK);
    CHECK_RC(mc_lease_get(h, "own", 10, 0, &v, &len, NULL, NULL, &state), MC_OK);
    CHECK_U64(state, MC_LEASE_WIN);
    mc_free(v);
    CHECK_RC(mc_lease_get(h, "own", 0, 0, &v, &len, NULL, NULL, &state), MC_INVALID);

    /* Bad arguments. */
    struct mc_fetch_options zero = {0, 0, 0};
    CHECK_RC(mc_fetch(h, "k", 60, &zero, NULL, NULL, &v, &len, NULL), MC_INVALID);
    CHECK_STR(mc_last_error(), "compute is a null pointer");
    return check_done();
}
