/*
 * tls.c: a TLS server (memcached -Z, requiring client certificates)
 * through memcache.h: the tls settings of mc_create_configured and
 * mc_configure, round trips and a pipeline, a value of many records, a
 * fork (each child opens, and shakes hands on, a connection of its own:
 * counted by the server), and the errors of a wrong CA and a file that
 * cannot be read.
 *
 *   tls SERVER PLAIN_SERVER DIR
 *
 * DIR holds ca.pem, other-ca.pem, client.pem and client.key.
 */
#include "forked.h"

#define CHILDREN 4

static char ca[512], other_ca[512], cert[512], key[512];

/* The server's total_connections. */
static unsigned long long connections(uint64_t h) {
    mc_stat *stats = NULL;
    size_t count = 0;
    unsigned long long n = 0;
    if (CHECK_RC(mc_server_stats(h, 0, NULL, &stats, &count), MC_OK)) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(stats[i].name, "total_connections") == 0) {
                n = strtoull(stats[i].value, NULL, 10);
            }
        }
        mc_free(stats);
    }
    return n;
}

static void round_trips(uint64_t h, const char *who) {
    char k[64], v[64];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "tls-%s-%d", who, i);
        snprintf(v, sizeof v, "value of %s %d", who, i);
        CHECK_RC(mc_set(h, k, v, strlen(v), 3, 0), MC_OK);
        void *got = NULL;
        size_t len = 0;
        uint32_t flags = 0;
        if (CHECK_RC(mc_get(h, k, &got, &len, &flags, NULL), MC_OK)) {
            CHECK_MEM(got, len, v, strlen(v));
            CHECK_U64(flags, 3);
            mc_free(got);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: tls SERVER PLAIN_SERVER DIR\n");
        return 2;
    }
    const char *spec = argv[1];
    snprintf(ca, sizeof ca, "%s/ca.pem", argv[3]);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", argv[3]);
    snprintf(cert, sizeof cert, "%s/client.pem", argv[3]);
    snprintf(key, sizeof key, "%s/client.key", argv[3]);
    const char *settings[] = { "tls", "1", "tlsca", ca, "tlscert", cert, "tlskey", key };
    uint64_t h = 0;
    if (!CHECK_RC(mc_create_configured(&spec, 1, settings, 4, &h), MC_OK)) {
        return check_done();
    }
    char *text = NULL;
    if (CHECK_RC(mc_option(h, "tlsca", &text), MC_OK)) {
        CHECK_STR(text, ca);
        mc_free(text);
    }
    if (CHECK_RC(mc_option(h, "tlsverify", &text), MC_OK)) {
        CHECK_STR(text, "1");
        mc_free(text);
    }
    round_trips(h, "first");
    /* A value of many TLS records. */
    size_t big_len = 700 * 1000;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (char)(i * 31);
    }
    CHECK_RC(mc_set(h, "tls-big", big, big_len, 0, 0), MC_OK);
    void *got = NULL;
    size_t len = 0;
    if (CHECK_RC(mc_get(h, "tls-big", &got, &len, NULL, NULL), MC_OK)) {
        CHECK_MEM(got, len, big, big_len);
        mc_free(got);
    }
    free(big);
    /* A pipeline: one gets for many keys. */
    const char *keys[] = { "tls-first-0", "tls-first-1", "tls-first-49", "tls-none" };
    mc_hit *hits = NULL;
    size_t count = 0;
    if (CHECK_RC(mc_get_multi(h, keys, 4, &hits, &count), MC_OK)) {
        CHECK_U64(count, 3);
        mc_free(hits);
    }

    /* Fork: the parent's pooled connection stays the parent's; each child
     * opens one of its own, with its own handshake. */
    unsigned long long before = connections(h);
    run_forked(CHILDREN, round_trips, h);
    CHECK_U64(connections(h), before + CHILDREN);

    /* Another CA: the server's certificate is not trusted. */
    const char *wrong[] = { "tlsca", other_ca };
    CHECK_RC(mc_configure(h, wrong, 1), MC_OK);
    CHECK_RC(mc_get(h, "tls-first-0", &got, &len, NULL, NULL), MC_IO);
    char want[600];
    snprintf(want, sizeof want,
             "%s: TLS handshake failed: invalid peer certificate: UnknownIssuer", spec);
    CHECK_ERROR(want);
    /* A file that cannot be read: refused, nothing changed. */
    const char *missing[] = { "tlsca", "/nonexistent/ca.pem" };
    CHECK_RC(mc_configure(h, missing, 1), MC_INVALID);
    CHECK_ERROR("cannot read the TLS CA file \"/nonexistent/ca.pem\": No such file or "
                "directory (os error 2)");
    if (CHECK_RC(mc_option(h, "tlsca", &text), MC_OK)) {
        CHECK_STR(text, other_ca);
        mc_free(text);
    }
    CHECK_RC(mc_delete(h), MC_OK);

    /* One handle, a TLS server and a plain one. */
    const char *mixed[] = { NULL, NULL };
    char tls_spec[300], plain_spec[300];
    snprintf(tls_spec, sizeof tls_spec, "tls://%s", spec);
    snprintf(plain_spec, sizeof plain_spec, "%s", argv[2]);
    mixed[0] = tls_spec;
    mixed[1] = plain_spec;
    const char *by_server[] = { "tlsca", ca, "tlscert", cert, "tlskey", key };
    if (CHECK_RC(mc_create_configured(mixed, 2, by_server, 3, &h), MC_OK)) {
        round_trips(h, "mixed");
        CHECK_RC(mc_delete(h), MC_OK);
    }
    return check_done();
}
