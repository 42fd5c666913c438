/*
 * forked.h: the pre-forking pattern the C tests share. Include it first
 * (it asks for POSIX before any system header).
 */
#ifndef MC_TEST_FORKED_H
#define MC_TEST_FORKED_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

enum { MAX_FORKED = 64 };

/*
 * Forks `children` children (at most MAX_FORKED) that each run
 * work(h, "child<N>") and exit with their checks' verdict, while the parent
 * runs work(h, "parent"); then waits for every child, each of which must
 * have passed.
 */
static inline void run_forked(int children, void (*work)(uint64_t, const char *), uint64_t h) {
    pid_t pids[MAX_FORKED];
    if (!CHECK(children <= MAX_FORKED)) {
        return;
    }
    for (int c = 0; c < children; c++) {
        pids[c] = fork();
        if (pids[c] == 0) {
            char who[16];
            snprintf(who, sizeof who, "child%d", c);
            work(h, who);
            exit(atomic_load(&checks_failed) == 0 ? 0 : 1);
        }
        CHECK(pids[c] > 0);
    }
    work(h, "parent");
    for (int c = 0; c < children; c++) {
        int status = 0;
        CHECK(waitpid(pids[c], &status, 0) == pids[c]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

#endif
