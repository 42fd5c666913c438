/*
 * settings.c: the calls by name and for byte-string callers, through
 * memcache.h: mc_create_configured, mc_configure, mc_option, mc_store (every
 * verb, with and without a place), mc_server_stats, mc_disconnect,
 * mc_check_key, mc_library_path.
 *
 *   settings SERVER
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

static void check_option(uint64_t h, const char *name, const char *want) {
    char *value = NULL;
    if (CHECK_RC(mc_option(h, name, &value), MC_OK)) {
        CHECK_STR(value, want);
        mc_free(value);
    }
}

/* The allocator of mc_get_into: one static buffer, and how it was asked. */
static char landing[64];
static size_t asked_len;
static int asked;

static void *give(void *user, size_t len, uint32_t flags) {
    (void)flags;
    asked++;
    asked_len = len;
    return len <= sizeof landing && user == landing ? landing : NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER\n", argv[0]);
        return 2;
    }
    const char *spec = argv[1];
    const char *create_settings[] = {"ttl", "60", "distribution", "modula", "autostart", "0"};
    const char *bad[] = {"timeout", "0"};
    const char *login[] = {"username", "alice", "password", "secret"};
    const char *only_name[] = {"username", "bob"};
    uint64_t h = 0, none = 0;
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    uint64_t cas = 0;
    if (!CHECK_RC(mc_create_configured(&spec, 1, create_settings, 3, &h), MC_OK)) {
        return check_done();
    }
    check_option(h, "ttl", "60");
    check_option(h, "distribution", "modula");
    check_option(h, "autostart", "0");
    check_option(h, "timeout", "3000");
    /* A bad setting makes no handle, and says why. */
    CHECK_RC(mc_create_configured(&spec, 1, bad, 1, &none), MC_INVALID);
    CHECK_ERROR("bad timeout \"0\": must be a number of milliseconds from 1 to 4294967295");
    /* Settings are applied together: a username with its password. */
    CHECK_RC(mc_configure(h, login, 2), MC_OK);
    check_option(h, "username", "alice");
    check_option(h, "password", "********");
    CHECK_RC(mc_configure(h, only_name, 1), MC_OK);
    check_option(h, "username", "bob");
    CHECK_RC(mc_configure(h, bad, 1), MC_INVALID);
    check_option(h, "timeout", "3000");
    CHECK_RC(mc_option(h, "colour", (char **)&value), MC_INVALID);
    CHECK_CONTAINS(mc_last_error(), "bad option \"colour\": must be ttl, timeout, connecttimeout");
    const char *no_login[] = {"username", ""};
    CHECK_RC(mc_configure(h, no_login, 1), MC_OK);

    /* mc_store: every verb. */
    CHECK_RC(mc_store(h, MC_VERB_SET, NULL, "s", "a", 1, 3, 0, 0), MC_OK);
    CHECK_RC(mc_store(h, MC_VERB_ADD, NULL, "s", "b", 1, 0, 0, 0), MC_NOTSTORED);
    CHECK_RC(mc_store(h, MC_VERB_APPEND, NULL, "s", "c", 1, 0, 0, 0), MC_OK);
    CHECK_RC(mc_store(h, MC_VERB_PREPEND, NULL, "s", "0", 1, 0, 0, 0), MC_OK);
    CHECK_RC(mc_store(h, MC_VERB_REPLACE, NULL, "none", "x", 1, 0, 0, 0), MC_NOTSTORED);
    CHECK_RC(mc_get(h, "s", &value, &len, &flags, &cas), MC_OK);
    CHECK_MEM(value, len, "0ac", 3);
    CHECK_U64(flags, 3);
    mc_free(value);
    CHECK_RC(mc_store(h, MC_VERB_CAS, NULL, "s", "new", 3, 0, 0, cas + 1), MC_EXISTS);
    CHECK_RC(mc_store(h, MC_VERB_CAS, NULL, "s", "new", 3, 0, 0, cas), MC_OK);
    CHECK_RC(mc_store(h, MC_VERB_APPEND_OR_ADD, NULL, "log", "a", 1, 0, 0, 0), MC_OK);
    CHECK_RC(mc_store(h, MC_VERB_APPEND_OR_ADD, NULL, "log", "b", 1, 0, 0, 0), MC_OK);
    CHECK_RC(mc_get(h, "log", &value, &len, NULL, NULL), MC_OK);
    CHECK_MEM(value, len, "ab", 2);
    mc_free(value);
    CHECK_RC(mc_store(h, MC_VERB_SET, "42", "placed", "p", 1, 0, 0, 0), MC_OK);
    CHECK_RC(mc_get_by_key(h, "42", "placed", &value, &len, NULL, NULL), MC_OK);
    mc_free(value);
    CHECK_RC(mc_store(h, 7, NULL, "s", "x", 1, 0, 0, 0), MC_INVALID);
    CHECK_ERROR("bad verb 7: must be an mc_verb from 0 to 6");

    /* mc_get_into: the value lands in the caller's memory. */
    size_t got = 0;
    if (CHECK_RC(mc_get_into(h, NULL, "s", give, landing, &got, &flags, &cas), MC_OK)) {
        CHECK_MEM(landing, got, "new", 3);
        CHECK_U64(flags, 0);
        CHECK_U64(asked, 1);
    }
    CHECK_RC(mc_get_into(h, NULL, "none", give, landing, &got, NULL, NULL), MC_NOTFOUND);
    CHECK_U64(asked, 1);
    char big[100];
    memset(big, 'b', sizeof big);
    CHECK_RC(mc_set(h, "big", big, sizeof big, 0, 0), MC_OK);
    CHECK_RC(mc_get_into(h, NULL, "big", give, landing, &got, NULL, NULL), MC_INVALID);
    char want[256];
    snprintf(want, sizeof want, "%s: the caller's allocator gave no memory for a value of 100 bytes",
             spec);
    CHECK_ERROR(want);
    CHECK_U64(asked_len, 100);
    CHECK_RC(mc_get_into(h, NULL, "s", NULL, landing, &got, NULL, NULL), MC_INVALID);
    CHECK_ERROR("alloc is a null pointer");
    /* The connection that failed to land a value was dropped, not reused
     * half-read: the next call reads its own reply. */
    CHECK_RC(mc_get(h, "s", &value, &len, NULL, NULL), MC_OK);
    CHECK_MEM(value, len, "new", 3);
    mc_free(value);

    /* One server's statistics. */
    struct mc_stat *stats = NULL;
    size_t count = 0;
    if (CHECK_RC(mc_server_stats(h, 0, NULL, &stats, &count), MC_OK)) {
        CHECK(count > 10);
        CHECK_STR(stats[0].name, "pid");
        CHECK_U64(stats[0].server, 0);
        mc_free(stats);
    }
    CHECK_RC(mc_server_stats(h, 1, NULL, &stats, &count), MC_INVALID);

    /* Byte-string keys: a NUL is refused with its reason. */
    CHECK_RC(mc_check_key("a\0b", 3), MC_BADKEY);
    CHECK_ERROR("key \"a\\x00b\" contains control character 0x00 at byte 1: keys may not contain "
                "whitespace or control characters");
    CHECK_RC(mc_check_key("fine", 4), MC_OK);

    CHECK_RC(mc_disconnect(h), MC_OK);
    CHECK_RC(mc_get(h, "log", &value, &len, NULL, NULL), MC_OK);
    mc_free(value);
    CHECK(strstr(mc_library_path(), "libmemcache") != NULL);
    CHECK_RC(mc_delete(h), MC_OK);
    return check_done();
}
