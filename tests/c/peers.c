/*
 * peers.c: the C side of tests/python_interop.rs's peer test. Reads, in the
 * python value format, what pylibmc, pymemcache and python-memcached stored (tests/python/
 * peers.py store), compressed (flag 8) and not, byte for byte; then stores
 * compressed text and bytes for them to read.
 *
 *   peers SERVER
 */
#include "check.h"

/* "caf\u00e9 \U0001F600 " 300 times, in UTF-8. */
static char text[300 * 11];
/* bytes 0 to 255, 20 times. */
static char bytes[256 * 20];

static void expect(uint64_t h, const char *key, const void *want, size_t want_len,
                   uint32_t want_flags) {
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    if (CHECK_RC(mc_get(h, key, &value, &len, &flags, NULL), MC_OK)) {
        CHECK_MEM(value, len, want, want_len);
        CHECK_U64(flags, want_flags);
        mc_free(value);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: peers SERVER\n");
        return 2;
    }
    const char *unit = "caf\xc3\xa9 \xf0\x9f\x98\x80 ";
    for (size_t i = 0; i < 300; i++) {
        memcpy(text + i * 11, unit, 11);
    }
    for (size_t i = 0; i < sizeof bytes; i++) {
        bytes[i] = (char)(i % 256);
    }
    uint64_t h = 0;
    if (!CHECK_RC(mc_create((const char *const *)&argv[1], 1, &h), MC_OK)) {
        return check_done();
    }
    CHECK_RC(mc_set_value_format(h, MC_VALUES_PYTHON), MC_OK);
    const char *who[] = {"lm", "pm", "py"};
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s:text", who[i]);
        expect(h, key, "short \xc3\xa9", 8, 16);
        snprintf(key, sizeof key, "%s:bytes", who[i]);
        expect(h, key, "\x00\xff short", 8, 0);
        snprintf(key, sizeof key, "%s:ztext", who[i]);
        expect(h, key, text, sizeof text, 16);
        snprintf(key, sizeof key, "%s:zbytes", who[i]);
        expect(h, key, bytes, sizeof bytes, 0);
    }
    CHECK_RC(mc_set_compress(h, 100), MC_OK);
    CHECK_RC(mc_set(h, "c:ztext", text, sizeof text, 16, 0), MC_OK);
    CHECK_RC(mc_set(h, "c:zbytes", bytes, sizeof bytes, 0, 0), MC_OK);
    CHECK_RC(mc_delete(h), MC_OK);
    return check_done();
}
