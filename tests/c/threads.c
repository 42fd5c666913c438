/*
 * threads.c: one handle shared by 8 threads, and a handle deleted while
 * other threads use it.
 *
 * usage: threads SPEC [SECOND-SPEC]
 *   SPEC         the server of the handle all threads share
 *   SECOND-SPEC  the server of the second handle (default: SPEC), which
 *                thread 0 deletes while the others are using it
 *
 * Each thread does ROUNDS rounds of set, get and get_multi on the shared
 * handle with values that name the thread and the round, and checks every
 * byte it reads back; each also uses the second handle every round, and
 * must see MC_OK until it is deleted and MC_BADHANDLE from then on.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <time.h>

#include "check.h"

enum { THREADS = 8, ROUNDS = 2000, DELETE_AT = 100, MAX_VALUE = 600 };

static uint64_t shared_handle;
static uint64_t second_handle;
static char second_gone[128]; /* the message for the deleted second handle */
static atomic_int progress[THREADS];
static atomic_int second_deleted;

struct worker {
    int id;
    long second_ok;  /* calls on the second handle that worked */
    long second_bad; /* ... that found it deleted */
};

static void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

static void make_key(char *key, size_t size, int thread, int round) {
    snprintf(key, size, "t%d-r%d", thread, round);
}

/* The value of a thread's round: it names both, then bytes of every kind
 * (NULs, CR, LF included); its length varies with the round. */
static size_t make_value(unsigned char *value, int thread, int round) {
    int head = snprintf((char *)value, MAX_VALUE, "thread %d round %d:", thread, round);
    size_t len = (size_t)head + (size_t)((round * 37 + thread * 11) % 500);
    size_t i;
    for (i = (size_t)head; i < len; i++) {
        value[i] = (unsigned char)(thread * 31 + round * 7 + (int)i);
    }
    return len;
}

static uint32_t make_flags(int thread, int round) {
    return (uint32_t)thread << 16 | (uint32_t)round;
}

/* Uses the second handle once; it must work until it is deleted and be
 * MC_BADHANDLE from then on, never anything else. */
static void use_second(struct worker *w, const char *key, const unsigned char *value,
                       size_t len) {
    void *got = NULL;
    size_t got_len = 0;
    mc_result r = mc_set(second_handle, key, value, len, 0, 0);
    if (r == MC_OK && w->second_bad == 0) {
        w->second_ok++;
    } else if (CHECK_RC(r, MC_BADHANDLE)) {
        CHECK_ERROR(second_gone);
        w->second_bad++;
    }
    r = mc_get(second_handle, key, &got, &got_len, NULL, NULL);
    if (r == MC_OK && w->second_bad == 0) {
        w->second_ok++;
        CHECK_MEM(got, got_len, value, len);
        mc_free(got);
    } else if (CHECK_RC(r, MC_BADHANDLE)) {
        CHECK_ERROR(second_gone);
        w->second_bad++;
    }
}

static void *work(void *arg) {
    struct worker *w = arg;
    unsigned char value[MAX_VALUE], previous[MAX_VALUE];
    char key[64], previous_key[64], missing[64], second_key[64];
    size_t len, previous_len = 0;
    int round, i;

    snprintf(second_key, sizeof second_key, "second-t%d", w->id);
    for (round = 0; round < ROUNDS; round++) {
        void *got = NULL;
        size_t got_len = 0;
        uint32_t flags = 0;
        mc_hit *hits = NULL;
        size_t count = 0;
        const char *keys[3];

        make_key(key, sizeof key, w->id, round);
        len = make_value(value, w->id, round);
        CHECK_RC(mc_set(shared_handle, key, value, len, make_flags(w->id, round), 0), MC_OK);
        if (CHECK_RC(mc_get(shared_handle, key, &got, &got_len, &flags, NULL), MC_OK)) {
            CHECK_MEM(got, got_len, value, len);
            CHECK_U64(((unsigned char *)got)[got_len], 0);
            CHECK_U64(flags, make_flags(w->id, round));
            mc_free(got);
        }
        /* this round's key, the last round's, and one nobody set */
        snprintf(missing, sizeof missing, "t%d-missing-%d", w->id, round);
        keys[0] = missing;
        keys[1] = key;
        keys[2] = previous_key;
        if (CHECK_RC(mc_get_multi(shared_handle, keys, round > 0 ? 3 : 2, &hits, &count),
                     MC_OK)) {
            CHECK_U64(count, round > 0 ? 2 : 1);
            for (i = 0; i < (int)count; i++) {
                if (strcmp(hits[i].key, key) == 0) {
                    CHECK_MEM(hits[i].value, hits[i].value_len, value, len);
                    CHECK_U64(hits[i].flags, make_flags(w->id, round));
                } else if (round > 0 && strcmp(hits[i].key, previous_key) == 0) {
                    CHECK_MEM(hits[i].value, hits[i].value_len, previous, previous_len);
                    CHECK_U64(hits[i].flags, make_flags(w->id, round - 1));
                } else {
                    CHECK_STR(hits[i].key, key);
                }
                CHECK(hits[i].cas != 0);
            }
            mc_free(hits);
        }
        /* mc_last_error() is this thread's own */
        if (round % 100 == 7) {
            char bad[64], message[256];
            snprintf(bad, sizeof bad, "t%d bad %d", w->id, round);
            snprintf(message, sizeof message,
                     "key \"%s\" contains a space at byte %d: keys may not contain "
                     "whitespace or control characters",
                     bad, (int)strcspn(bad, " "));
            CHECK_RC(mc_get(shared_handle, bad, &got, &got_len, NULL, NULL), MC_BADKEY);
            CHECK_ERROR(message);
        }
        /* handles made and deleted while others work */
        if (round % 500 == 250) {
            const char *spec = "127.0.0.1:1";
            uint64_t mine = 0;
            if (CHECK_RC(mc_create(&spec, 1, &mine), MC_OK)) {
                CHECK(mine != shared_handle && mine != second_handle);
                CHECK_RC(mc_delete(mine), MC_OK);
            }
        }
        use_second(w, second_key, value, len);
        /* thread 0 deletes the second handle once every thread used it */
        if (w->id == 0 && round == DELETE_AT) {
            for (i = 0; i < THREADS; i++) {
                while (atomic_load(&progress[i]) < DELETE_AT && i != 0) {
                    sleep_ms(1);
                }
            }
            CHECK_RC(mc_delete(second_handle), MC_OK);
            atomic_store(&second_deleted, 1);
        }
        memcpy(previous, value, len);
        previous_len = len;
        memcpy(previous_key, key, sizeof key);
        atomic_store(&progress[w->id], round + 1);
    }
    /* a thread that finished early keeps trying until the handle is gone */
    for (i = 0; i < 30000 && w->second_bad == 0; i++) {
        use_second(w, second_key, value, len);
        sleep_ms(1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    const char *spec, *second_spec;
    size_t live = 0;
    int t;

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s SPEC [SECOND-SPEC]\n", argv[0]);
        return 2;
    }
    spec = argv[1];
    second_spec = argc == 3 ? argv[2] : argv[1];
    if (mc_create(&spec, 1, &shared_handle) != MC_OK ||
        mc_create(&second_spec, 1, &second_handle) != MC_OK) {
        fprintf(stderr, "cannot create the handles: %s\n", mc_last_error());
        return 2;
    }
    snprintf(second_gone, sizeof second_gone,
             "invalid memcache handle \"memcache%" PRIu64 "\": no such handle, or deleted",
             second_handle);
    CHECK_RC(mc_flush(shared_handle, 0), MC_OK);

    for (t = 0; t < THREADS; t++) {
        workers[t].id = t;
        workers[t].second_ok = 0;
        workers[t].second_bad = 0;
        if (pthread_create(&threads[t], NULL, work, &workers[t]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", t);
            return 2;
        }
    }
    for (t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
    }

    /* every thread used the second handle, then found it deleted */
    CHECK(atomic_load(&second_deleted) == 1);
    for (t = 0; t < THREADS; t++) {
        CHECK(workers[t].second_ok >= 2 * DELETE_AT);
        CHECK(workers[t].second_bad > 0);
    }
    CHECK_RC(mc_delete(second_handle), MC_BADHANDLE);
    CHECK_ERROR(second_gone);
    /* the shared handle holds every thread's last value */
    for (t = 0; t < THREADS; t++) {
        char key[64];
        unsigned char value[MAX_VALUE];
        size_t len = make_value(value, t, ROUNDS - 1);
        void *got = NULL;
        size_t got_len = 0;
        make_key(key, sizeof key, t, ROUNDS - 1);
        if (CHECK_RC(mc_get(shared_handle, key, &got, &got_len, NULL, NULL), MC_OK)) {
            CHECK_MEM(got, got_len, value, len);
            mc_free(got);
        }
    }
    CHECK_RC(mc_handles(NULL, 0, &live), MC_OK);
    CHECK_U64(live, 1);
    CHECK_RC(mc_delete(shared_handle), MC_OK);
    return check_done();
}
