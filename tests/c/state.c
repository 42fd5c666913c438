/*
 * state.c: CGI state through memcache.h, the way a pre-forking FCGI server
 * keeps it: one handle made before the fork, 8 worker processes that add
 * to one list with mc_update and count under a lock with mc_lock/mc_unlock,
 * then the parent checks that nothing was lost. Also: giving up, removing,
 * a lock that another holds, an owner-checked unlock.
 *
 *   state SERVER
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 8
#define UPDATES 100
#define LOCKED 50

/* What the update function appends, and the buffer it builds in. */
struct append {
    char entry[32];
    char *buffer;
    size_t size;
};

static uint32_t append_entry(void *user, const void *old, size_t old_len, uint32_t old_flags,
                             int found, mc_update_value *store) {
    struct append *a = user;
    size_t add = strlen(a->entry);
    (void)old_flags;
    if (!found) {
        old_len = 0;
    }
    a->buffer = realloc(a->buffer, old_len + add);
    if (a->buffer == NULL) {
        return MC_CHANGE_ABORT;
    }
    if (old_len > 0) {
        memcpy(a->buffer, old, old_len);
    }
    memcpy(a->buffer + old_len, a->entry, add);
    store->value = a->buffer;
    store->len = old_len + add;
    store->flags = 7;
    return MC_CHANGE_STORE;
}

static uint32_t give_up(void *user, const void *old, size_t old_len, uint32_t old_flags,
                        int found, mc_update_value *store) {
    (void)user, (void)old, (void)old_len, (void)old_flags, (void)found, (void)store;
    return MC_CHANGE_ABORT;
}

static uint32_t remove_it(void *user, const void *old, size_t old_len, uint32_t old_flags,
                          int found, mc_update_value *store) {
    (void)user, (void)old, (void)old_len, (void)old_flags, (void)store;
    return found ? MC_CHANGE_REMOVE : MC_CHANGE_KEEP;
}

/* A worker: its updates, then its counting under the lock. */
static int worker(uint64_t h, int me) {
    struct append a = {.buffer = NULL};
    for (int i = 0; i < UPDATES; i++) {
        snprintf(a.entry, sizeof a.entry, "%d.%d;", me, i);
        CHECK_RC(mc_update(h, "list", 0, append_entry, &a), MC_OK);
    }
    free(a.buffer);
    for (int i = 0; i < LOCKED; i++) {
        char token[MC_UNIQUE_KEY_SIZE];
        CHECK_RC(mc_lock(h, "counter-lock", 10, 30000, token), MC_OK);
        void *value = NULL;
        size_t len = 0;
        long n = 0;
        if (mc_get(h, "counter", &value, &len, NULL, NULL) == MC_OK) {
            n = strtol(value, NULL, 10);
            mc_free(value);
        }
        char text[32];
        int text_len = snprintf(text, sizeof text, "%ld", n + 1);
        CHECK_RC(mc_set(h, "counter", text, (size_t)text_len, 0, 0), MC_OK);
        CHECK_RC(mc_unlock(h, "counter-lock", token), MC_OK);
    }
    return check_done();
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER\n", argv[0]);
        return 2;
    }
    uint64_t h = 0;
    const char *spec = argv[1];
    if (!CHECK_RC(mc_create(&spec, 1, &h), MC_OK)) {
        return check_done();
    }
    CHECK_RC(mc_flush(h, 0), MC_OK);
    /* The handle is made (and used) before the fork, as a pre-forking
       server does; every worker uses it. */
    pid_t pids[WORKERS];
    for (int me = 0; me < WORKERS; me++) {
        pids[me] = fork();
        if (pids[me] == 0) {
            _exit(worker(h, me));
        }
        CHECK(pids[me] > 0);
    }
    for (int me = 0; me < WORKERS; me++) {
        int status = 0;
        CHECK(waitpid(pids[me], &status, 0) == pids[me]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* Every entry, once. */
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    if (CHECK_RC(mc_get(h, "list", &value, &len, &flags, NULL), MC_OK)) {
        CHECK_U64(flags, 7);
        int entries = 0;
        for (size_t i = 0; i < len; i++) {
            entries += ((const char *)value)[i] == ';';
        }
        CHECK_U64(entries, WORKERS * UPDATES);
        /* ";" + the list, so that every entry stands between two ';'. */
        char *list = malloc(len + 2);
        list[0] = ';';
        memcpy(list + 1, value, len);
        list[len + 1] = 0;
        for (int me = 0; me < WORKERS; me++) {
            for (int i = 0; i < UPDATES; i++) {
                char entry[40];
                snprintf(entry, sizeof entry, ";%d.%d;", me, i);
                CHECK(strstr(list, entry) != NULL);
            }
        }
        free(list);
        mc_free(value);
    }
    if (CHECK_RC(mc_get(h, "counter", &value, &len, NULL, NULL), MC_OK)) {
        CHECK_MEM(value, len, "400", 3);
        mc_free(value);
    }
    /* Giving up stores nothing. */
    CHECK_RC(mc_update(h, "list", 0, give_up, NULL), MC_NOTSTORED);
    CHECK_ERROR("not stored: the update function gave up");
    /* Removing; then nothing to remove: kept. */
    CHECK_RC(mc_update(h, "list", 0, remove_it, NULL), MC_OK);
    CHECK_RC(mc_get(h, "list", &value, &len, NULL, NULL), MC_NOTFOUND);
    CHECK_RC(mc_update(h, "list", 0, remove_it, NULL), MC_OK);
    CHECK_RC(mc_update(h, "list", 0, NULL, NULL), MC_INVALID);
    CHECK_ERROR("change is a null pointer");
    /* A held lock: another taker gets MC_CONFLICT after its wait; the
       holder's token releases it, a wrong token does not. */
    char token[MC_UNIQUE_KEY_SIZE], other[MC_UNIQUE_KEY_SIZE];
    CHECK_RC(mc_lock(h, "l", 30, 0, token), MC_OK);
    CHECK_U64(strlen(token), 32);
    CHECK_RC(mc_lock(h, "l", 30, 100, other), MC_CONFLICT);
    CHECK_ERROR("lock \"l\" is held by another holder: not taken within 100 ms");
    CHECK_RC(mc_unlock(h, "l", "00000000000000000000000000000000"), MC_NOTFOUND);
    CHECK_RC(mc_unlock(h, "l", token), MC_OK);
    CHECK_RC(mc_unlock(h, "l", token), MC_NOTFOUND);
    CHECK_RC(mc_lock(h, "l", 0, 0, token), MC_INVALID);
    CHECK_RC(mc_lock(h, "l", 30, 0, NULL), MC_INVALID);
    CHECK_RC(mc_delete(h), MC_OK);
    return check_done();
}
