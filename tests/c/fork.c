/*
 * fork.c: a pre-forking server's pattern. The parent warms a handle's
 * connection pool, forks children, and then the parent and every child use
 * the same handle at once. A child must never use a connection it
 * inherited (parent and child would read each other's replies): every
 * value read back must be the one this process wrote.
 *
 * Usage: fork SPEC
 */
#include "forked.h"

enum { CHILDREN = 4, ROUNDS = 1000 };

/* set and get own keys; every reply must be this process's own value. */
static void work(uint64_t mc, const char *who) {
    char key[64], value[64], other[64];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(key, sizeof key, "fork-%s-%d", who, i % 17);
        snprintf(value, sizeof value, "%s:%d", who, i);
        CHECK_RC(mc_set(mc, key, value, strlen(value), 0, 0), MC_OK);
        void *got = NULL;
        size_t len = 0;
        if (CHECK_RC(mc_get(mc, key, &got, &len, NULL, NULL), MC_OK)) {
            CHECK_MEM(got, len, value, strlen(value));
            mc_free(got);
        }
        /* A key every process shares: the reply is some process's value,
           never another request's reply (a number, STORED, a wrong key). */
        snprintf(other, sizeof other, "%s", who);
        CHECK_RC(mc_set(mc, "fork-shared", other, strlen(other), 0, 0), MC_OK);
        uint64_t n = 0;
        CHECK_RC(mc_incr(mc, "fork-counter", 1, &n), MC_OK);
        CHECK(n >= 1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fork SPEC\n");
        return 2;
    }
    const char *servers[] = { argv[1] };
    uint64_t mc;
    CHECK_RC(mc_create(servers, 1, &mc), MC_OK);
    CHECK_RC(mc_set(mc, "fork-counter", "0", 1, 0, 0), MC_OK);
    /* Fill the pool: these connections are the ones children inherit. */
    const char *keys[] = { "fork-counter", "fork-shared" };
    mc_hit *hits = NULL;
    size_t count = 0;
    CHECK_RC(mc_get_multi(mc, keys, 2, &hits, &count), MC_OK);
    mc_free(hits);

    run_forked(CHILDREN, work, mc);
    /* Every increment of every process landed exactly once. */
    void *got = NULL;
    size_t len = 0;
    if (CHECK_RC(mc_get(mc, "fork-counter", &got, &len, NULL, NULL), MC_OK)) {
        char want[32];
        snprintf(want, sizeof want, "%d", (CHILDREN + 1) * ROUNDS);
        CHECK_MEM(got, len, want, strlen(want));
        mc_free(got);
    }
    CHECK_RC(mc_delete(mc), MC_OK);
    return check_done();
}
