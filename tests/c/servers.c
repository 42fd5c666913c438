/*
 * servers.c: many servers through memcache.h: weights, distributions,
 * placement values (the _by_key calls), server list changes, the failure
 * policy.
 *
 * usage: servers SPEC0 SPEC1 SPEC2 DEAD
 *   SPEC0..2  "127.0.0.1:PORT" of three fresh memcached servers
 *   DEAD      "127.0.0.1:PORT" where nothing listens
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "check.h"

static const char *spec[3];
static const char *dead;
static uint64_t direct[3];

static uint64_t open_handle(const char *const *specs, size_t count) {
    uint64_t h = UINT64_MAX;
    if (mc_create(specs, count, &h) != MC_OK) {
        fprintf(stderr, "cannot create a handle: %s\n", mc_last_error());
        exit(2);
    }
    return h;
}

/* python-memcached's server hash: 15 bits of zlib's crc32. */
static uint32_t modula_hash(const char *key) {
    uint32_t crc = 0xffffffffu;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        crc ^= *p;
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
        }
    }
    return ((~crc) >> 16) & 0x7fff;
}

/* Which direct handles hold `key`, as a bit mask. */
static unsigned holders(const char *key) {
    unsigned mask = 0;
    for (int i = 0; i < 3; i++) {
        void *value = NULL;
        size_t len = 0;
        if (mc_get(direct[i], key, &value, &len, NULL, NULL) == MC_OK) {
            mask |= 1u << i;
            mc_free(value);
        }
    }
    return mask;
}

static void weights_and_distributions(void) {
    char weighted[3][64];
    const char *specs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(weighted[i], sizeof weighted[i], "%s*%d", spec[i], i + 1);
        specs[i] = weighted[i];
    }
    uint64_t h = open_handle(specs, 3);
    size_t count = 0;
    CHECK_RC(mc_server_count(h, &count), MC_OK);
    CHECK_U64(count, 3);
    for (size_t i = 0; i < 3; i++) {
        char *name = NULL;
        uint32_t weight = 0;
        CHECK_RC(mc_server_name(h, i, &name), MC_OK);
        CHECK_STR(name, spec[i]);
        mc_free(name);
        CHECK_RC(mc_server_weight(h, i, &weight), MC_OK);
        CHECK_U64(weight, i + 1);
    }
    uint32_t weight = 0;
    CHECK_RC(mc_server_weight(h, 3, &weight), MC_INVALID);
    CHECK_ERROR("server index 3 is out of range");
    CHECK_RC(mc_server_weight(h, 0, NULL), MC_INVALID);
    CHECK_ERROR("weight is a null pointer");

    /* Ketama (the default): each key is stored where mc_server_for_key says. */
    unsigned seen = 0;
    for (int i = 0; i < 120; i++) {
        char key[32];
        size_t at = 99;
        snprintf(key, sizeof key, "c-ketama-%d", i);
        CHECK_RC(mc_server_for_key(h, key, &at), MC_OK);
        CHECK(at < 3);
        CHECK_RC(mc_set(h, key, "v", 1, 0, 0), MC_OK);
        CHECK_U64(holders(key), 1u << at);
        seen |= 1u << at;
    }
    CHECK_U64(seen, 7);

    /* Modula: python-memcached's buckets [0, 1, 1, 2, 2, 2]. */
    static const size_t buckets[6] = {0, 1, 1, 2, 2, 2};
    CHECK_RC(mc_set_distribution(h, MC_DISTRIBUTION_MODULA), MC_OK);
    for (int i = 0; i < 120; i++) {
        char key[32];
        size_t at = 99;
        snprintf(key, sizeof key, "c-modula-%d", i);
        CHECK_RC(mc_server_for_key(h, key, &at), MC_OK);
        CHECK_U64(at, buckets[modula_hash(key) % 6]);
        CHECK_RC(mc_set(h, key, "v", 1, 0, 0), MC_OK);
        CHECK_U64(holders(key), 1u << at);
    }
    /* Integer placement values are python-memcached's hash values. */
    size_t at = 99;
    CHECK_RC(mc_server_for_place(h, "42", &at), MC_OK);
    CHECK_U64(at, buckets[42 % 6]);
    CHECK_RC(mc_server_for_place(h, "43", &at), MC_OK);
    CHECK_U64(at, buckets[43 % 6]);
    CHECK_RC(mc_server_for_place(h, "-1", &at), MC_OK);
    CHECK_U64(at, buckets[5]);
    CHECK_RC(mc_server_for_place(h, "user42", &at), MC_OK);
    CHECK_U64(at, buckets[modula_hash("user42") % 6]);

    CHECK_RC(mc_set_distribution(h, 7), MC_INVALID);
    CHECK_ERROR("bad distribution 7: must be MC_DISTRIBUTION_KETAMA (0) or MC_DISTRIBUTION_MODULA (1)");
    CHECK_RC(mc_server_for_key(h, "a b", &at), MC_BADKEY);
    CHECK_RC(mc_server_for_key(h, "k", NULL), MC_INVALID);
    CHECK_ERROR("index is a null pointer");
    CHECK_RC(mc_server_for_place(h, NULL, &at), MC_INVALID);
    CHECK_ERROR("place is a null pointer");
    CHECK_RC(mc_set_distribution(UINT64_MAX - 1, MC_DISTRIBUTION_KETAMA), MC_BADHANDLE);
    mc_delete(h);
}

static void placement_values(void) {
    uint64_t h = open_handle(spec, 3);
    size_t home = 99;
    CHECK_RC(mc_server_for_place(h, "user:7", &home), MC_OK);
    const char *keys[10];
    char names[10][32];
    mc_entry entries[10];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof names[i], "user7-field%d", i);
        keys[i] = names[i];
        entries[i].key = names[i];
        entries[i].value = names[i];
        entries[i].value_len = strlen(names[i]);
        entries[i].flags = 5;
    }
    mc_result statuses[10];
    CHECK_RC(mc_set_multi_by_key(h, "user:7", entries, 10, 0, statuses), MC_OK);
    for (int i = 0; i < 10; i++) {
        CHECK_RC(statuses[i], MC_OK);
        CHECK_U64(holders(names[i]), 1u << home);
    }
    mc_hit *hits = NULL;
    size_t count = 0;
    CHECK_RC(mc_get_multi_by_key(h, "user:7", keys, 10, &hits, &count), MC_OK);
    CHECK_U64(count, 10);
    mc_free(hits);
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    CHECK_RC(mc_get_by_key(h, "user:7", names[3], &value, &len, &flags, NULL), MC_OK);
    CHECK_MEM(value, len, names[3], strlen(names[3]));
    CHECK_U64(flags, 5);
    mc_free(value);
    CHECK_RC(mc_add_by_key(h, "user:7", names[3], "x", 1, 0, 0), MC_NOTSTORED);
    CHECK_RC(mc_replace_by_key(h, "user:7", names[3], "new", 3, 0, 0), MC_OK);
    CHECK_RC(mc_set_by_key(h, "user:7", "user7-n", "10", 2, 0, 0), MC_OK);
    uint64_t n = 0;
    CHECK_RC(mc_incr_by_key(h, "user:7", "user7-n", 5, &n), MC_OK);
    CHECK_U64(n, 15);
    CHECK_RC(mc_decr_by_key(h, "user:7", "user7-n", 20, &n), MC_OK);
    CHECK_U64(n, 0);
    CHECK_RC(mc_touch_by_key(h, "user:7", "user7-n", 100), MC_OK);
    CHECK_U64(holders("user7-n"), 1u << home);
    CHECK_RC(mc_remove_by_key(h, "user:7", "user7-n"), MC_OK);
    CHECK_RC(mc_remove_by_key(h, "user:7", "user7-n"), MC_NOTFOUND);
    /* A null placement value: the key's own server. */
    size_t own = 99;
    CHECK_RC(mc_server_for_key(h, "plain-key", &own), MC_OK);
    CHECK_RC(mc_set_by_key(h, NULL, "plain-key", "p", 1, 0, 0), MC_OK);
    CHECK_U64(holders("plain-key"), 1u << own);
    CHECK_RC(mc_remove_multi_by_key(h, "user:7", keys, 10, statuses), MC_OK);
    for (int i = 0; i < 10; i++) {
        CHECK_U64(holders(names[i]), 0);
    }
    mc_delete(h);
}

static void set_servers(void) {
    uint64_t h = open_handle(spec, 2);
    size_t count = 0;
    CHECK_RC(mc_set(h, "moving", "1", 1, 0, 0), MC_OK);
    CHECK_RC(mc_set_servers(h, spec, 3), MC_OK);
    CHECK_RC(mc_server_count(h, &count), MC_OK);
    CHECK_U64(count, 3);
    const char *bad[2] = {spec[0], "127.0.0.1:0"};
    CHECK_RC(mc_set_servers(h, bad, 2), MC_INVALID);
    CHECK_ERROR("bad server \"127.0.0.1:0\": port \"0\" is not a number from 1 to 65535");
    CHECK_RC(mc_server_count(h, &count), MC_OK);
    CHECK_U64(count, 3);
    CHECK_RC(mc_set_servers(h, NULL, 0), MC_INVALID);
    CHECK_ERROR("no server given");
    CHECK_RC(mc_set_servers(h, NULL, 1), MC_INVALID);
    CHECK_ERROR("servers is a null pointer");
    const char *one[1] = {spec[2]};
    CHECK_RC(mc_set_servers(h, one, 1), MC_OK);
    char *name = NULL;
    CHECK_RC(mc_server_name(h, 0, &name), MC_OK);
    CHECK_STR(name, spec[2]);
    mc_free(name);
    mc_delete(h);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void failure_policy(void) {
    const char *specs[2] = {spec[0], dead};
    uint64_t h = open_handle(specs, 2);
    char refused[128], marked[192];
    snprintf(refused, sizeof refused, "%s: cannot connect: Connection refused (os error 111)", dead);
    snprintf(marked, sizeof marked,
             "%s: marked dead after \"cannot connect: Connection refused (os error 111)\", retried in ",
             dead);
    /* A key of each server. */
    char on_dead[32] = "", on_live[32] = "";
    for (int i = 0; i < 200 && (!on_dead[0] || !on_live[0]); i++) {
        char key[32];
        size_t at = 0;
        snprintf(key, sizeof key, "fp-%d", i);
        mc_server_for_key(h, key, &at);
        memcpy(at == 1 ? on_dead : on_live, key, sizeof key);
    }
    CHECK(on_dead[0] && on_live[0]);
    CHECK_RC(mc_set_failure_policy(h, 60000, 0), MC_OK);
    CHECK_RC(mc_set(h, on_live, "live", 4, 0, 0), MC_OK);
    CHECK_RC(mc_set(h, on_dead, "x", 1, 0, 0), MC_IO);
    CHECK_ERROR(refused);
    /* Without failover a refused server is not marked dead: every request
       tries it (a refused connect costs microseconds), so it is used again
       as soon as it answers. */
    double start = now_seconds();
    CHECK_RC(mc_set(h, on_dead, "x", 1, 0, 0), MC_IO);
    CHECK_ERROR(refused);
    CHECK(now_seconds() - start < 0.1);
    const char *both[2] = {on_live, on_dead};
    mc_hit *hits = NULL;
    size_t count = 99, failed = 99;
    CHECK_RC(mc_get_multi(h, both, 2, &hits, &count), MC_IO);
    CHECK_ERROR(refused);
    CHECK_RC(mc_get_multi_partial(h, both, 2, &hits, &count, &failed), MC_OK);
    CHECK_U64(count, 1);
    CHECK_U64(failed, 1);
    CHECK_STR(hits[0].key, on_live);
    CHECK_ERROR(refused);
    mc_free(hits);
    CHECK_RC(mc_get_multi_partial(h, both, 2, &hits, &count, NULL), MC_INVALID);
    CHECK_ERROR("failed is a null pointer");
    /* Failover: the dead server's key goes to the live one, and the dead
       server is marked dead meanwhile. */
    CHECK_RC(mc_set_failure_policy(h, 60000, 1), MC_OK);
    CHECK_RC(mc_set(h, on_dead, "failed over", 11, 0, 0), MC_OK);
    void *value = NULL;
    size_t len = 0;
    CHECK_RC(mc_get(direct[0], on_dead, &value, &len, NULL, NULL), MC_OK);
    CHECK_MEM(value, len, "failed over", 11);
    mc_free(value);
    CHECK_RC(mc_get_multi(h, both, 2, &hits, &count), MC_OK);
    CHECK_U64(count, 2);
    mc_free(hits);
    /* The mark stays when failover is turned off: its keys fail at once. */
    CHECK_RC(mc_set_failure_policy(h, 60000, 0), MC_OK);
    start = now_seconds();
    CHECK_RC(mc_set(h, on_dead, "x", 1, 0, 0), MC_IO);
    CHECK_CONTAINS(mc_last_error(), marked);
    CHECK(now_seconds() - start < 0.1);
    CHECK_RC(mc_get_multi(h, both, 2, &hits, &count), MC_IO);
    CHECK_CONTAINS(mc_last_error(), marked);
    /* Forgotten: tried again (and refused again). */
    CHECK_RC(mc_forget_dead(h), MC_OK);
    CHECK_RC(mc_set(h, on_dead, "x", 1, 0, 0), MC_IO);
    CHECK_ERROR(refused);
    /* Retry interval 0: nothing is marked dead, every request tries. */
    CHECK_RC(mc_set_failure_policy(h, 0, 0), MC_OK);
    CHECK_RC(mc_forget_dead(h), MC_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(mc_get(h, on_dead, &value, &len, NULL, NULL), MC_IO);
        CHECK_ERROR(refused);
    }
    CHECK_RC(mc_forget_dead(UINT64_MAX - 1), MC_BADHANDLE);
    mc_delete(h);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SPEC0 SPEC1 SPEC2 DEAD\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < 3; i++) {
        spec[i] = argv[i + 1];
        direct[i] = open_handle(&spec[i], 1);
    }
    dead = argv[4];
    weights_and_distributions();
    for (int i = 0; i < 3; i++) {
        CHECK_RC(mc_flush(direct[i], 0), MC_OK);
    }
    placement_values();
    set_servers();
    failure_policy();
    return check_done();
}
