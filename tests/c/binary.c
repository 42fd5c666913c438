/*
 * binary.c: binary keys through memcache.h against a real memcached.
 *
 *   binary SERVER
 *
 * With the `binarykeys` setting, the `_n` calls store, read, touch,
 * count and delete keys of every byte value (one key per byte, NUL
 * included, and one key of bytes 0-185); classic keys keep working with
 * the NUL-terminated calls, and a handle without the setting refuses a
 * key with a space (MC_BADKEY, the message naming it).
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: binary SERVER\n");
        return 2;
    }
    const char *servers[] = {argv[1]};
    const char *settings[] = {"binarykeys", "1"};
    uint64_t h, off;
    CHECK_RC(mc_create_configured(servers, 1, settings, 1, &h), MC_OK);
    CHECK_RC(mc_create(servers, 1, &off), MC_OK);

    unsigned char key[186];
    for (int b = 0; b < 256; b++) {
        key[0] = (unsigned char)b;
        char value[16];
        int n = snprintf(value, sizeof value, "byte %d", b);
        CHECK_RC(mc_store_n(h, MC_VERB_SET, NULL, key, 1, value, (size_t)n, (uint32_t)b, 0, 0),
                 MC_OK);
    }
    for (int b = 0; b < 256; b++) {
        key[0] = (unsigned char)b;
        char want[16];
        int n = snprintf(want, sizeof want, "byte %d", b);
        void *got = NULL;
        size_t len = 0;
        uint32_t flags = 0;
        CHECK_RC(mc_get_n(h, NULL, key, 1, &got, &len, &flags, NULL), MC_OK);
        CHECK_MEM(got, len, want, (size_t)n);
        CHECK_U64(flags, b);
        mc_free(got);
    }
    for (int i = 0; i < 186; i++) {
        key[i] = (unsigned char)i;
    }
    CHECK_RC(mc_store_n(h, MC_VERB_ADD, NULL, key, 186, "41", 2, 0, 0, 0), MC_OK);
    CHECK_RC(mc_store_n(h, MC_VERB_ADD, NULL, key, 186, "x", 1, 0, 0, 0), MC_NOTSTORED);
    uint64_t n = 0;
    CHECK_RC(mc_incr_n(h, NULL, key, 186, 1, &n), MC_OK);
    CHECK_U64(n, 42);
    CHECK_RC(mc_decr_n(h, NULL, key, 186, 40, &n), MC_OK);
    CHECK_U64(n, 2);
    CHECK_RC(mc_touch_n(h, NULL, key, 186, 100), MC_OK);
    CHECK_RC(mc_remove_n(h, NULL, key, 186), MC_OK);
    CHECK_RC(mc_remove_n(h, NULL, key, 186), MC_NOTFOUND);
    CHECK_RC(mc_touch_n(h, NULL, key, 186, 100), MC_NOTFOUND);

    /* 187 bytes: over memcached's 250 once in base64. */
    unsigned char longer[187];
    memset(longer, ' ', sizeof longer);
    CHECK_RC(mc_store_n(h, MC_VERB_SET, NULL, longer, sizeof longer, "v", 1, 0, 0, 0),
             MC_BADKEY);
    CHECK_CONTAINS(mc_last_error(), "is 187 bytes long; in base64 that is 252 bytes");
    CHECK_RC(mc_get_n(h, NULL, "", 0, &(void *){NULL}, &(size_t){0}, NULL, NULL), MC_BADKEY);
    CHECK_ERROR("key is empty");

    /* Classic keys: the usual calls, and the same item by either. */
    CHECK_RC(mc_set(h, "classic", "c", 1, 0, 0), MC_OK);
    void *got = NULL;
    size_t len = 0;
    CHECK_RC(mc_get_n(h, NULL, "classic", 7, &got, &len, NULL, NULL), MC_OK);
    CHECK_MEM(got, len, "c", 1);
    mc_free(got);

    /* Without the setting: refused before anything is sent. */
    CHECK_RC(mc_store_n(off, MC_VERB_SET, NULL, "a key", 5, "v", 1, 0, 0, 0), MC_BADKEY);
    CHECK_ERROR("key \"a key\" contains a space at byte 1: keys may not contain whitespace or "
                "control characters");
    CHECK_RC(mc_get_n(off, NULL, "\0", 1, &got, &len, NULL, NULL), MC_BADKEY);
    CHECK_ERROR("key \"\\x00\" contains control character 0x00 at byte 0: keys may not contain "
                "whitespace or control characters");

    mc_delete(h);
    mc_delete(off);
    return check_done();
}
