/*
 * api.c: every function of memcache.h against real memcached servers.
 *
 * usage: api TCP-SPEC UNIX-SOCKET-SPEC SMALL-ITEM-SPEC
 *   TCP-SPEC          "127.0.0.1:PORT" of a memcached (default settings)
 *   UNIX-SOCKET-SPEC  the socket path of another memcached
 *   SMALL-ITEM-SPEC   "127.0.0.1:PORT" of a memcached started with -I 1m
 *
 * The servers must be fresh: the program flushes them.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *spec_tcp;
static const char *spec_unix;
static const char *spec_small;

static const char deleted_fmt[] = "invalid memcache handle \"memcache%" PRIu64
                                  "\": no such handle, or deleted";
static const char nospace[] =
    ": keys may not contain whitespace or control characters";

/* A handle on one server; the program stops if it cannot be made. */
static uint64_t open_handle(const char *spec) {
    uint64_t h = UINT64_MAX;
    if (mc_create(&spec, 1, &h) != MC_OK) {
        fprintf(stderr, "cannot create a handle for %s: %s\n", spec, mc_last_error());
        exit(2);
    }
    return h;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* The port of a "127.0.0.1:PORT" spec. */
static int spec_port(const char *spec) {
    const char *colon = strrchr(spec, ':');
    return colon ? atoi(colon + 1) : 0;
}

/* A TCP socket listening on a free loopback port that never answers. */
static int silent_listener(char *spec, size_t size) {
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("silent listener");
        exit(2);
    }
    snprintf(spec, size, "127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

/* The first line (without CR LF) the server at a "127.0.0.1:PORT" spec
 * answers to `request`, asked over a socket of our own. */
static void raw_line(const char *spec, const char *request, char *out, size_t size) {
    struct sockaddr_in a;
    char buf[256];
    size_t got = 0;
    size_t len = strlen(request);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)spec_port(spec));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, request, len) != (ssize_t)len) {
        perror("raw request");
        exit(2);
    }
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    snprintf(out, size, "%.*s", (int)strcspn(buf, "\r\n"), buf);
}

/* What the server answers to "version": "1.6.18". */
static void raw_version(const char *spec, char *out, size_t size) {
    char line[256];
    raw_line(spec, "version\r\n", line, sizeof line);
    out[0] = 0;
    if (strncmp(line, "VERSION ", 8) == 0) {
        snprintf(out, size, "%s", line + 8);
    }
}

/* The hit for `key` in a get_multi answer, or NULL. */
static const mc_hit *find_hit(const mc_hit *hits, size_t count, const char *key) {
    size_t i;
    for (i = 0; i < count; i++) {
        if (strcmp(hits[i].key, key) == 0) {
            return &hits[i];
        }
    }
    return NULL;
}

/* The value of stat `name` of server `server`, or NULL. */
static const char *find_stat(const mc_stat *stats, size_t count, size_t server,
                             const char *name) {
    size_t i;
    for (i = 0; i < count; i++) {
        if (stats[i].server == server && strcmp(stats[i].name, name) == 0) {
            return stats[i].value;
        }
    }
    return NULL;
}

/* Reads `key` and checks its value and flags. */
#define CHECK_VALUE(h, key, want, want_len, want_flags)                            \
    do {                                                                           \
        void *v_ = NULL;                                                           \
        size_t l_ = 0;                                                             \
        uint32_t f_ = 0;                                                           \
        if (CHECK_RC(mc_get((h), (key), &v_, &l_, &f_, NULL), MC_OK)) {            \
            CHECK_MEM(v_, l_, (want), (want_len));                                 \
            CHECK_U64(f_, (want_flags));                                           \
            CHECK_U64(((const char *)v_)[l_], 0);                                  \
            mc_free(v_);                                                           \
        }                                                                          \
    } while (0)

#define CHECK_MISSING(h, key)                                                      \
    do {                                                                           \
        void *v_ = NULL;                                                           \
        size_t l_ = 0;                                                             \
        CHECK_RC(mc_get((h), (key), &v_, &l_, NULL, NULL), MC_NOTFOUND);           \
    } while (0)

static void test_results(void) {
    static const char *const names[] = {
        "MC_OK",       "MC_NOTFOUND", "MC_NOTSTORED", "MC_EXISTS",    "MC_BADKEY",
        "MC_TOOLARGE", "MC_NOTNUMERIC", "MC_TIMEOUT", "MC_IO",        "MC_SERVER",
        "MC_CLIENT",   "MC_PROTOCOL", "MC_BADHANDLE", "MC_INVALID",   "MC_DAEMON",
        "MC_PANIC",    "MC_CONFLICT", "MC_AUTH"};
    uint32_t i;
    /* The numbers are part of the ABI. */
    CHECK_U64(MC_OK, 0);
    CHECK_U64(MC_NOTFOUND, 1);
    CHECK_U64(MC_NOTSTORED, 2);
    CHECK_U64(MC_EXISTS, 3);
    CHECK_U64(MC_BADKEY, 4);
    CHECK_U64(MC_TOOLARGE, 5);
    CHECK_U64(MC_NOTNUMERIC, 6);
    CHECK_U64(MC_TIMEOUT, 7);
    CHECK_U64(MC_IO, 8);
    CHECK_U64(MC_SERVER, 9);
    CHECK_U64(MC_CLIENT, 10);
    CHECK_U64(MC_PROTOCOL, 11);
    CHECK_U64(MC_BADHANDLE, 12);
    CHECK_U64(MC_INVALID, 13);
    CHECK_U64(MC_DAEMON, 14);
    CHECK_U64(MC_PANIC, 15);
    CHECK_U64(MC_CONFLICT, 16);
    CHECK_U64(MC_AUTH, 17);
    CHECK_U64(sizeof(mc_result), 4);
    CHECK_U64(MC_UNIQUE_KEY_SIZE, 33);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK_STR(mc_result_name(i), names[i]);
    }
    /* A number from a newer library, or garbage: a name, not a crash. */
    CHECK_STR(mc_result_name(18), "MC_UNKNOWN");
    CHECK_STR(mc_result_name(0xffffffffu), "MC_UNKNOWN");
    /* Never null, empty before any failure. */
    CHECK(mc_last_error() != NULL);
    CHECK_STR(mc_last_error(), "");
    mc_free(NULL);
    CHECK(1); /* mc_free(NULL) did not crash */
}

static void test_create(void) {
    static const struct {
        const char *spec;
        const char *message;
    } bad[] = {
        {"host:0", "bad server \"host:0\": port \"0\" is not a number from 1 to 65535"},
        {"host:99999",
         "bad server \"host:99999\": port \"99999\" is not a number from 1 to 65535"},
        {"host:+80", "bad server \"host:+80\": port \"+80\" is not a number from 1 to 65535"},
        {"", "bad server \"\": empty server name"},
        {":80", "bad server \":80\": empty host name"},
        {"[::1", "bad server \"[::1\": missing \"]\" after an IPv6 address"},
        {"||", "bad server \"||\": empty socket path"},
    };
    const char *pair[2];
    const char *nul[1] = {NULL};
    uint64_t h = 4242, before_count = 0;
    size_t n = 0, i;

    CHECK_RC(mc_handles(NULL, 0, &n), MC_OK);
    before_count = n;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = 4242;
        CHECK_RC(mc_create(&bad[i].spec, 1, &h), MC_INVALID);
        CHECK_ERROR(bad[i].message);
        CHECK_U64(h, 4242); /* untouched */
    }
    /* A host that does not resolve. */
    {
        const char *s = "no-such-host.invalid:11211";
        CHECK_RC(mc_create(&s, 1, &h), MC_INVALID);
        CHECK_CONTAINS(mc_last_error(),
                       "bad server \"no-such-host.invalid:11211\": cannot resolve host "
                       "\"no-such-host.invalid\": ");
    }
    /* One bad spec among good ones: no handle at all. */
    pair[0] = spec_tcp;
    pair[1] = "host:0";
    CHECK_RC(mc_create(pair, 2, &h), MC_INVALID);
    CHECK_ERROR(bad[0].message);
    CHECK_U64(h, 4242);
    CHECK_RC(mc_create(pair, 0, &h), MC_INVALID);
    CHECK_ERROR("no server given");
    CHECK_RC(mc_handles(NULL, 0, &n), MC_OK);
    CHECK_U64(n, before_count);
    /* Null pointers. */
    CHECK_RC(mc_create(NULL, 1, &h), MC_INVALID);
    CHECK_ERROR("servers is a null pointer");
    CHECK_RC(mc_create(&spec_tcp, 1, NULL), MC_INVALID);
    CHECK_ERROR("handle is a null pointer");
    CHECK_RC(mc_create(nul, 1, &h), MC_INVALID);
    CHECK_ERROR("a server name is a null pointer");
    CHECK_U64(h, 4242);
    /* Servers need not be up: a handle on a port nobody listens on. */
    {
        const char *s = "127.0.0.1:1";
        CHECK_RC(mc_create(&s, 1, &h), MC_OK);
        CHECK_RC(mc_delete(h), MC_OK);
    }
}

static void test_handles(uint64_t h, uint64_t hu, uint64_t hm) {
    uint64_t list[64], found = 77, tmp;
    size_t n = 0, count = 0, i, at_h = 99, at_hu = 99, at_hm = 99;
    char name[64], msg[128];
    char *sname = NULL;

    CHECK_RC(mc_handles(NULL, 0, &n), MC_OK);
    CHECK(n >= 3);
    CHECK_RC(mc_handles(list, 64, &count), MC_OK);
    CHECK_U64(count, n);
    for (i = 0; i < count && i < 64; i++) {
        if (i > 0) {
            CHECK(list[i] > list[i - 1]); /* oldest first */
        }
        if (list[i] == h) at_h = i;
        if (list[i] == hu) at_hu = i;
        if (list[i] == hm) at_hm = i;
    }
    CHECK(at_h < at_hu && at_hu < at_hm && at_hm < count);
    /* A short buffer: only `capacity` written, the total still told. */
    list[0] = list[1] = 555;
    CHECK_RC(mc_handles(list, 1, &count), MC_OK);
    CHECK_U64(count, n);
    CHECK(list[0] != 555);
    CHECK_U64(list[1], 555);
    CHECK_RC(mc_handles(NULL, 1, &count), MC_INVALID);
    CHECK_ERROR("handles is a null pointer");
    CHECK_RC(mc_handles(list, 1, NULL), MC_INVALID);
    CHECK_ERROR("count is a null pointer");

    /* find */
    snprintf(name, sizeof name, "memcache%" PRIu64, hu);
    CHECK_RC(mc_find(name, &found), MC_OK);
    CHECK_U64(found, hu);
    found = 77;
    CHECK_RC(mc_find("memcache", &found), MC_BADHANDLE);
    CHECK_ERROR("invalid memcache handle \"memcache\": no such handle, or deleted");
    CHECK_RC(mc_find("nope", &found), MC_BADHANDLE);
    CHECK_ERROR("invalid memcache handle \"nope\": no such handle, or deleted");
    CHECK_RC(mc_find("memcache99999", &found), MC_BADHANDLE);
    CHECK_ERROR("invalid memcache handle \"memcache99999\": no such handle, or deleted");
    CHECK_U64(found, 77);
    CHECK_RC(mc_find(NULL, &found), MC_INVALID);
    CHECK_ERROR("name is a null pointer");
    CHECK_RC(mc_find(name, NULL), MC_INVALID);
    CHECK_ERROR("handle is a null pointer");

    /* server_count, server_name */
    CHECK_RC(mc_server_count(h, &n), MC_OK);
    CHECK_U64(n, 1);
    CHECK_RC(mc_server_count(hm, &n), MC_OK);
    CHECK_U64(n, 2);
    CHECK_RC(mc_server_count(h, NULL), MC_INVALID);
    CHECK_ERROR("count is a null pointer");
    if (CHECK_RC(mc_server_name(h, 0, &sname), MC_OK)) {
        CHECK_STR(sname, spec_tcp);
        mc_free(sname);
    }
    if (CHECK_RC(mc_server_name(hu, 0, &sname), MC_OK)) {
        CHECK_STR(sname, spec_unix);
        mc_free(sname);
    }
    if (CHECK_RC(mc_server_name(hm, 1, &sname), MC_OK)) {
        CHECK_STR(sname, spec_unix);
        mc_free(sname);
    }
    sname = (char *)"untouched";
    CHECK_RC(mc_server_name(hm, 2, &sname), MC_INVALID);
    CHECK_ERROR("server index 2 is out of range");
    CHECK_STR(sname, "untouched");
    CHECK_RC(mc_server_name(h, 0, NULL), MC_INVALID);
    CHECK_ERROR("name is a null pointer");

    /* delete */
    tmp = open_handle(spec_tcp);
    CHECK(tmp > hm); /* numbers grow */
    CHECK_RC(mc_delete(tmp), MC_OK);
    snprintf(msg, sizeof msg, deleted_fmt, tmp);
    CHECK_RC(mc_delete(tmp), MC_BADHANDLE);
    CHECK_ERROR(msg);
    snprintf(name, sizeof name, "memcache%" PRIu64, tmp);
    CHECK_RC(mc_find(name, &found), MC_BADHANDLE);
    CHECK_ERROR(msg);
    CHECK_RC(mc_handles(list, 64, &count), MC_OK);
    for (i = 0; i < count && i < 64; i++) {
        CHECK(list[i] != tmp);
    }
    /* A new handle never gets a deleted one's number. */
    found = open_handle(spec_tcp);
    CHECK(found > tmp);
    CHECK_RC(mc_delete(found), MC_OK);
    /* Handles nobody made. */
    snprintf(msg, sizeof msg, deleted_fmt, (uint64_t)UINT64_MAX);
    CHECK_RC(mc_delete(UINT64_MAX), MC_BADHANDLE);
    CHECK_ERROR(msg);
}

/* Every function that takes a handle, on a deleted one. */
static void test_deleted_handle(void) {
    uint64_t d = open_handle(spec_tcp), u64 = 31;
    char msg[128];
    const char *keys[2] = {"a", "b"};
    mc_entry entry = {"a", "v", 1, 0};
    mc_result statuses[2] = {(mc_result)99, (mc_result)99};
    void *value = &u64;
    size_t len = 41, count = 51;
    uint32_t flags = 61;
    int64_t ttl = 71;
    char *name = (char *)"untouched";
    mc_hit *hits = (mc_hit *)&u64;
    mc_stat *stats = (mc_stat *)&u64;

    CHECK_RC(mc_set(d, "a", "v", 1, 0, 0), MC_OK);
    CHECK_RC(mc_delete(d), MC_OK);
    snprintf(msg, sizeof msg, deleted_fmt, d);
#define DELETED(call)                          \
    do {                                       \
        CHECK_RC(call, MC_BADHANDLE);          \
        CHECK_ERROR(msg);                      \
    } while (0)
    DELETED(mc_delete(d));
    DELETED(mc_server_count(d, &count));
    DELETED(mc_server_name(d, 0, &name));
    DELETED(mc_set_timeouts(d, 100, 100));
    DELETED(mc_set_key_prefix(d, "p"));
    DELETED(mc_set(d, "a", "v", 1, 0, 0));
    DELETED(mc_add(d, "a", "v", 1, 0, 0));
    DELETED(mc_replace(d, "a", "v", 1, 0, 0));
    DELETED(mc_append(d, "a", "v", 1));
    DELETED(mc_prepend(d, "a", "v", 1));
    DELETED(mc_cas(d, "a", "v", 1, 0, 0, 1));
    DELETED(mc_set_multi(d, &entry, 1, 0, statuses));
    DELETED(mc_get(d, "a", &value, &len, &flags, &u64));
    DELETED(mc_get_and_touch(d, "a", 10, &value, &len, &flags, &u64));
    DELETED(mc_get_multi(d, keys, 2, &hits, &count));
    DELETED(mc_exists(d, "a"));
    DELETED(mc_ttl(d, "a", &ttl));
    DELETED(mc_remove(d, "a"));
    DELETED(mc_remove_multi(d, keys, 2, statuses));
    DELETED(mc_touch(d, "a", 10));
    DELETED(mc_incr(d, "a", 1, &u64));
    DELETED(mc_decr(d, "a", 1, &u64));
    DELETED(mc_flush(d, 0));
    DELETED(mc_verbosity(d, 0));
    DELETED(mc_stats(d, NULL, &stats, &count));
    DELETED(mc_version(d, 0, &name));
#undef DELETED
    /* Nothing written. */
    CHECK(value == (void *)&u64);
    CHECK_U64(u64, 31);
    CHECK_U64(len, 41);
    CHECK_U64(count, 51);
    CHECK_U64(flags, 61);
    CHECK_I64(ttl, 71);
    CHECK_STR(name, "untouched");
    CHECK(hits == (mc_hit *)&u64);
    CHECK(stats == (mc_stat *)&u64);
    CHECK_U64(statuses[0], 99);
    CHECK_U64(statuses[1], 99);
}

static void test_store_and_get(uint64_t h) {
    static const char tricky[] = "a\0b\r\nEND\r\nVALUE x 0 1\r\n\0\r\nEND\r\n";
    const size_t tricky_len = sizeof tricky - 1;
    char sentinel = 's';
    void *value = &sentinel;
    size_t len = 12345;
    uint32_t flags = 777;
    uint64_t cas = 999, cas1 = 0, cas2 = 0;
    unsigned char *big;
    size_t i;

    /* set, and get with value bytes, NUL terminator, flags, cas */
    CHECK_RC(mc_set(h, "tricky", tricky, tricky_len, 0xdeadbeefu, 0), MC_OK);
    if (CHECK_RC(mc_get(h, "tricky", &value, &len, &flags, &cas), MC_OK)) {
        CHECK_MEM(value, len, tricky, tricky_len);
        CHECK_U64(((unsigned char *)value)[len], 0);
        CHECK_U64(flags, 0xdeadbeefu);
        CHECK(cas != 0 && cas != 999);
        cas1 = cas;
        mc_free(value);
    }
    /* a miss leaves every output as it was */
    value = &sentinel;
    len = 12345;
    flags = 777;
    cas = 999;
    CHECK_RC(mc_get(h, "no-such-key", &value, &len, &flags, &cas), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK(value == &sentinel);
    CHECK_U64(len, 12345);
    CHECK_U64(flags, 777);
    CHECK_U64(cas, 999);
    /* flags and cas may be null */
    if (CHECK_RC(mc_get(h, "tricky", &value, &len, NULL, NULL), MC_OK)) {
        CHECK_MEM(value, len, tricky, tricky_len);
        mc_free(value);
    }
    /* an empty value; a null value pointer is fine with length 0 */
    CHECK_RC(mc_set(h, "empty", NULL, 0, 3, 0), MC_OK);
    value = NULL;
    len = 99;
    if (CHECK_RC(mc_get(h, "empty", &value, &len, &flags, NULL), MC_OK)) {
        CHECK(value != NULL);
        CHECK_U64(len, 0);
        CHECK_U64(flags, 3);
        if (value) {
            CHECK_U64(((unsigned char *)value)[0], 0);
        }
        mc_free(value);
    }
    /* a large value, written from the caller's memory, read back exactly */
    big = malloc(1000000);
    for (i = 0; i < 1000000; i++) {
        big[i] = (unsigned char)(i * 7 + i / 251);
    }
    CHECK_RC(mc_set(h, "big", big, 1000000, 1, 0), MC_OK);
    CHECK_VALUE(h, "big", big, 1000000, 1);
    free(big);
    /* a key of 250 bytes, and a UTF-8 key */
    {
        char key[251];
        memset(key, 'k', 250);
        key[250] = 0;
        CHECK_RC(mc_set(h, key, "250", 3, 0, 0), MC_OK);
        CHECK_VALUE(h, key, "250", 3, 0);
        CHECK_RC(mc_set(h, "schl\xc3\xbcssel-\xe2\x82\xac", "utf8", 4, 0, 0), MC_OK);
        CHECK_VALUE(h, "schl\xc3\xbcssel-\xe2\x82\xac", "utf8", 4, 0);
    }

    /* add */
    CHECK_RC(mc_add(h, "tricky", "x", 1, 0, 0), MC_NOTSTORED);
    CHECK_ERROR("not stored");
    CHECK_VALUE(h, "tricky", tricky, tricky_len, 0xdeadbeefu);
    CHECK_RC(mc_add(h, "added", "new", 3, 5, 0), MC_OK);
    CHECK_VALUE(h, "added", "new", 3, 5);
    /* replace */
    CHECK_RC(mc_replace(h, "not-there", "x", 1, 0, 0), MC_NOTSTORED);
    CHECK_ERROR("not stored");
    CHECK_MISSING(h, "not-there");
    CHECK_RC(mc_replace(h, "added", "replaced", 8, 6, 0), MC_OK);
    CHECK_VALUE(h, "added", "replaced", 8, 6);
    /* append, prepend: flags kept */
    CHECK_RC(mc_append(h, "not-there", "x", 1), MC_NOTSTORED);
    CHECK_ERROR("not stored");
    CHECK_RC(mc_prepend(h, "not-there", "x", 1), MC_NOTSTORED);
    CHECK_ERROR("not stored");
    CHECK_MISSING(h, "not-there");
    CHECK_RC(mc_append(h, "added", "-post\0", 6), MC_OK);
    CHECK_RC(mc_prepend(h, "added", "pre-", 4), MC_OK);
    CHECK_VALUE(h, "added", "pre-replaced-post\0", 18, 6);
    CHECK_RC(mc_append(h, "added", NULL, 0), MC_OK);
    CHECK_VALUE(h, "added", "pre-replaced-post\0", 18, 6);

    /* cas */
    CHECK_RC(mc_get(h, "tricky", &value, &len, NULL, &cas1), MC_OK);
    mc_free(value);
    CHECK_RC(mc_set(h, "tricky", "changed", 7, 1, 0), MC_OK);
    CHECK_RC(mc_cas(h, "tricky", "stale", 5, 2, 0, cas1), MC_EXISTS);
    CHECK_ERROR("exists: the item changed since its CAS value was read");
    CHECK_VALUE(h, "tricky", "changed", 7, 1);
    CHECK_RC(mc_get(h, "tricky", &value, &len, NULL, &cas2), MC_OK);
    mc_free(value);
    CHECK(cas2 != cas1);
    CHECK_RC(mc_cas(h, "tricky", "fresh", 5, 2, 0, cas2), MC_OK);
    CHECK_VALUE(h, "tricky", "fresh", 5, 2);
    CHECK_RC(mc_cas(h, "tricky", "again", 5, 2, 0, cas2), MC_EXISTS);
    CHECK_RC(mc_cas(h, "cas-gone", "x", 1, 0, 0, cas2), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_MISSING(h, "cas-gone");

    /* null pointers */
    CHECK_RC(mc_set(h, NULL, "v", 1, 0, 0), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_set(h, "k", NULL, 1, 0, 0), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_add(h, NULL, "v", 1, 0, 0), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_add(h, "k", NULL, 1, 0, 0), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_replace(h, NULL, "v", 1, 0, 0), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_replace(h, "k", NULL, 1, 0, 0), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_append(h, NULL, "v", 1), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_append(h, "k", NULL, 1), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_prepend(h, NULL, "v", 1), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_prepend(h, "k", NULL, 1), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_cas(h, NULL, "v", 1, 0, 0, 1), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_cas(h, "k", NULL, 1, 0, 0, 1), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_MISSING(h, "k");
    CHECK_RC(mc_get(h, NULL, &value, &len, NULL, NULL), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_get(h, "tricky", NULL, &len, NULL, NULL), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_get(h, "tricky", &value, NULL, NULL, NULL), MC_INVALID);
    CHECK_ERROR("len is a null pointer");
    CHECK_RC(mc_get_and_touch(h, NULL, 0, &value, &len, NULL, NULL), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_get_and_touch(h, "tricky", 0, NULL, &len, NULL, NULL), MC_INVALID);
    CHECK_ERROR("value is a null pointer");
    CHECK_RC(mc_get_and_touch(h, "tricky", 0, &value, NULL, NULL, NULL), MC_INVALID);
    CHECK_ERROR("len is a null pointer");
}

static void test_bad_keys(uint64_t h) {
    static const struct {
        const char *key;
        const char *message;
    } bad[] = {
        {"", "key is empty"},
        {"a b", "key \"a b\" contains a space at byte 1"},
        {"a\r\nset x 0 0 1", "key \"a\\x0d\\x0aset x 0 0 1\" contains control character 0x0d at byte 1"},
        {"tab\there", "key \"tab\\x09here\" contains control character 0x09 at byte 3"},
        {"del\x7f", "key \"del\\x7f\" contains control character 0x7f at byte 3"},
        {"long", NULL}, /* replaced by 251 bytes below */
    };
    char long_key[252], message[512];
    const char *keys[3];
    mc_entry entries[2];
    mc_result statuses[2];
    void *value = NULL;
    size_t len = 0, count = 0, i;
    uint64_t n = 0;
    int64_t ttl = 0;
    mc_hit *hits = NULL;

    memset(long_key, 'x', 251);
    long_key[251] = 0;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *key = bad[i].key;
        if (bad[i].message == NULL) {
            key = long_key;
            snprintf(message, sizeof message,
                     "key is 251 bytes long, the limit is 250: \"%.40s...\"", long_key);
        } else if (key[0] == 0) {
            snprintf(message, sizeof message, "%s", bad[i].message);
        } else {
            snprintf(message, sizeof message, "%s%s", bad[i].message, nospace);
        }
#define BAD(call)                      \
    do {                               \
        CHECK_RC(call, MC_BADKEY);     \
        CHECK_ERROR(message);          \
    } while (0)
        BAD(mc_set(h, key, "v", 1, 0, 0));
        BAD(mc_add(h, key, "v", 1, 0, 0));
        BAD(mc_replace(h, key, "v", 1, 0, 0));
        BAD(mc_append(h, key, "v", 1));
        BAD(mc_prepend(h, key, "v", 1));
        BAD(mc_cas(h, key, "v", 1, 0, 0, 1));
        BAD(mc_get(h, key, &value, &len, NULL, NULL));
        BAD(mc_get_and_touch(h, key, 0, &value, &len, NULL, NULL));
        BAD(mc_exists(h, key));
        BAD(mc_ttl(h, key, &ttl));
        BAD(mc_remove(h, key));
        BAD(mc_touch(h, key, 0));
        BAD(mc_incr(h, key, 1, &n));
        BAD(mc_decr(h, key, 1, &n));
        keys[0] = "fine";
        keys[1] = key;
        BAD(mc_get_multi(h, keys, 2, &hits, &count));
        BAD(mc_remove_multi(h, keys, 2, statuses));
        /* set_multi: a bad key fails the call before anything is sent */
        entries[0].key = "multi-good";
        entries[0].value = "g";
        entries[0].value_len = 1;
        entries[0].flags = 0;
        entries[1].key = key;
        entries[1].value = "b";
        entries[1].value_len = 1;
        entries[1].flags = 0;
        statuses[0] = statuses[1] = (mc_result)99;
        BAD(mc_set_multi(h, entries, 2, 0, statuses));
        CHECK_U64(statuses[0], 99);
        CHECK_MISSING(h, "multi-good");
#undef BAD
    }
    /* the connection is still in step after all that */
    CHECK_RC(mc_set(h, "after-bad-keys", "ok", 2, 0, 0), MC_OK);
    CHECK_VALUE(h, "after-bad-keys", "ok", 2, 0);
}

static void test_multi(uint64_t h, uint64_t hu, uint64_t hm) {
    enum { N = 20 };
    char keys[N + 5][32], vals[N][64];
    const char *kp[N + 5];
    mc_entry entries[N];
    mc_result statuses[N + 5];
    mc_hit *hits = NULL;
    size_t count = 0, i, on_tcp = 0, on_unix = 0;
    uint64_t cas = 0;

    /* one server */
    CHECK_RC(mc_set(h, "m1", "one\0", 4, 11, 0), MC_OK);
    CHECK_RC(mc_set(h, "m2", "two\r\nEND\r\n", 10, 22, 0), MC_OK);
    CHECK_RC(mc_set(h, "m3", "", 0, 33, 0), MC_OK);
    {
        const char *k[] = {"m1", "missing-1", "m2", "m3", "missing-2"};
        if (CHECK_RC(mc_get_multi(h, k, 5, &hits, &count), MC_OK)) {
            const mc_hit *hit;
            CHECK_U64(count, 3);
            if ((hit = find_hit(hits, count, "m1")) != NULL && CHECK(1)) {
                CHECK_MEM(hit->value, hit->value_len, "one\0", 4);
                CHECK_U64(hit->value[hit->value_len], 0);
                CHECK_U64(hit->flags, 11);
                void *v = NULL;
                size_t l = 0;
                if (CHECK_RC(mc_get(h, "m1", &v, &l, NULL, &cas), MC_OK)) {
                    CHECK_U64(hit->cas, cas);
                    mc_free(v);
                }
            } else {
                CHECK(!"m1 is among the hits");
            }
            if ((hit = find_hit(hits, count, "m2")) != NULL && CHECK(1)) {
                CHECK_MEM(hit->value, hit->value_len, "two\r\nEND\r\n", 10);
                CHECK_U64(hit->value[hit->value_len], 0);
                CHECK_U64(hit->flags, 22);
                CHECK(hit->cas != 0);
            } else {
                CHECK(!"m2 is among the hits");
            }
            if ((hit = find_hit(hits, count, "m3")) != NULL && CHECK(1)) {
                CHECK_U64(hit->value_len, 0);
                CHECK(hit->value != NULL);
                CHECK_U64(hit->value[0], 0);
                CHECK_U64(hit->flags, 33);
            } else {
                CHECK(!"m3 is among the hits");
            }
            CHECK(find_hit(hits, count, "missing-1") == NULL);
            mc_free(hits); /* one block: the array, keys and values */
        }
    }
    /* all misses; no keys at all */
    {
        const char *k[] = {"missing-1", "missing-2"};
        hits = NULL;
        if (CHECK_RC(mc_get_multi(h, k, 2, &hits, &count), MC_OK)) {
            CHECK_U64(count, 0);
            mc_free(hits);
        }
        hits = NULL;
        count = 9;
        if (CHECK_RC(mc_get_multi(h, NULL, 0, &hits, &count), MC_OK)) {
            CHECK_U64(count, 0);
            mc_free(hits);
        }
    }
    /* null pointers */
    {
        const char *k[] = {"m1", NULL};
        hits = (mc_hit *)&cas;
        count = 9;
        CHECK_RC(mc_get_multi(h, NULL, 1, &hits, &count), MC_INVALID);
        CHECK_ERROR("keys is a null pointer");
        CHECK_RC(mc_get_multi(h, k, 2, &hits, &count), MC_INVALID);
        CHECK_ERROR("a key is a null pointer");
        CHECK_RC(mc_get_multi(h, k, 1, NULL, &count), MC_INVALID);
        CHECK_ERROR("hits is a null pointer");
        CHECK_RC(mc_get_multi(h, k, 1, &hits, NULL), MC_INVALID);
        CHECK_ERROR("count is a null pointer");
        CHECK(hits == (mc_hit *)&cas);
        CHECK_U64(count, 9);
    }

    /* set_multi, get_multi, remove_multi over two servers */
    for (i = 0; i < N + 5; i++) {
        snprintf(keys[i], sizeof keys[i], "%s-%zu", i < N ? "spread" : "absent", i);
        kp[i] = keys[i];
    }
    for (i = 0; i < N; i++) {
        snprintf(vals[i], sizeof vals[i], "value %zu of %d%c", i, N, (char)(i % 3 ? 'x' : 0));
        entries[i].key = keys[i];
        entries[i].value = vals[i];
        entries[i].value_len = strlen(vals[i]) + (i % 3 ? 0 : 1);
        entries[i].flags = (uint32_t)(1000 + i);
        statuses[i] = (mc_result)99;
    }
    CHECK_RC(mc_set_multi(hm, entries, N, 0, statuses), MC_OK);
    for (i = 0; i < N; i++) {
        CHECK_RC(statuses[i], MC_OK);
    }
    /* statuses may be null */
    CHECK_RC(mc_set_multi(hm, entries, N, 0, NULL), MC_OK);
    CHECK_RC(mc_set_multi(hm, NULL, 0, 0, NULL), MC_OK);
    CHECK_RC(mc_set_multi(hm, NULL, 1, 0, statuses), MC_INVALID);
    CHECK_ERROR("entries is a null pointer");
    {
        mc_entry e[2] = {{"n1", "v", 1, 0}, {NULL, "v", 1, 0}};
        CHECK_RC(mc_set_multi(hm, e, 2, 0, NULL), MC_INVALID);
        CHECK_ERROR("an entry's key is a null pointer");
        e[1].key = "n2";
        e[1].value = NULL;
        CHECK_RC(mc_set_multi(hm, e, 2, 0, NULL), MC_INVALID);
        CHECK_ERROR("an entry's value is a null pointer");
        e[1].value_len = 0;
        CHECK_RC(mc_set_multi(hm, e, 2, 0, NULL), MC_OK);
        CHECK_VALUE(hm, "n2", "", 0, 0);
    }
    /* each server holds some of the keys */
    for (i = 0; i < N; i++) {
        on_tcp += mc_exists(h, keys[i]) == MC_OK;
        on_unix += mc_exists(hu, keys[i]) == MC_OK;
    }
    CHECK_U64(on_tcp + on_unix, N);
    CHECK(on_tcp > 0 && on_unix > 0);
    if (CHECK_RC(mc_get_multi(hm, kp, N + 5, &hits, &count), MC_OK)) {
        CHECK_U64(count, N);
        for (i = 0; i < N; i++) {
            const mc_hit *hit = find_hit(hits, count, keys[i]);
            if (CHECK(hit != NULL)) {
                CHECK_MEM(hit->value, hit->value_len, vals[i], entries[i].value_len);
                CHECK_U64(hit->flags, 1000 + i);
                CHECK(hit->cas != 0);
            }
        }
        mc_free(hits);
    }
    /* remove_multi: present, absent */
    kp[1] = keys[N]; /* absent */
    for (i = 0; i < 4; i++) {
        statuses[i] = (mc_result)99;
    }
    CHECK_RC(mc_remove_multi(hm, kp, 4, statuses), MC_NOTFOUND);
    CHECK_RC(statuses[0], MC_OK);
    CHECK_RC(statuses[1], MC_NOTFOUND);
    CHECK_RC(statuses[2], MC_OK);
    CHECK_RC(statuses[3], MC_OK);
    CHECK_RC(mc_exists(hm, keys[0]), MC_NOTFOUND);
    CHECK_RC(mc_exists(hm, keys[1]), MC_OK);
    kp[1] = keys[1];
    CHECK_RC(mc_remove_multi(hm, kp + 1, 1, statuses), MC_OK);
    CHECK_RC(statuses[0], MC_OK);
    /* statuses may be null; every key gone */
    CHECK_RC(mc_remove_multi(hm, kp, N + 5, NULL), MC_NOTFOUND);
    if (CHECK_RC(mc_get_multi(hm, kp, N + 5, &hits, &count), MC_OK)) {
        CHECK_U64(count, 0);
        mc_free(hits);
    }
    CHECK_RC(mc_remove_multi(hm, NULL, 0, NULL), MC_OK);
    CHECK_RC(mc_remove_multi(hm, NULL, 1, NULL), MC_INVALID);
    CHECK_ERROR("keys is a null pointer");
    kp[1] = NULL;
    CHECK_RC(mc_remove_multi(hm, kp, 2, NULL), MC_INVALID);
    CHECK_ERROR("a key is a null pointer");

    /* remove */
    CHECK_RC(mc_set(h, "rm", "x", 1, 0, 0), MC_OK);
    CHECK_RC(mc_remove(h, "rm"), MC_OK);
    CHECK_RC(mc_remove(h, "rm"), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_MISSING(h, "rm");
    CHECK_RC(mc_remove(h, NULL), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
}

static void test_ttl(uint64_t h) {
    int64_t ttl = 0;
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    uint64_t cas = 0, cas_get = 0;
    char sentinel = 's';

    /* exists */
    CHECK_RC(mc_set(h, "ex", "v", 1, 0, 0), MC_OK);
    CHECK_RC(mc_exists(h, "ex"), MC_OK);
    CHECK_RC(mc_exists(h, "no-ex"), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_RC(mc_exists(h, NULL), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    /* ttl: none, some, more than 30 days */
    CHECK_RC(mc_ttl(h, "ex", &ttl), MC_OK);
    CHECK_I64(ttl, -1);
    CHECK_RC(mc_set(h, "ttl100", "v", 1, 0, 100), MC_OK);
    CHECK_RC(mc_ttl(h, "ttl100", &ttl), MC_OK);
    CHECK(ttl >= 98 && ttl <= 100);
    CHECK_RC(mc_set(h, "ttl40d", "v", 1, 0, 40 * 86400), MC_OK);
    CHECK_VALUE(h, "ttl40d", "v", 1, 0);
    CHECK_RC(mc_ttl(h, "ttl40d", &ttl), MC_OK);
    CHECK(ttl >= 40 * 86400 - 3 && ttl <= 40 * 86400 + 1);
    ttl = 4242;
    CHECK_RC(mc_ttl(h, "no-ex", &ttl), MC_NOTFOUND);
    CHECK_I64(ttl, 4242);
    CHECK_RC(mc_ttl(h, NULL, &ttl), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_ttl(h, "ex", NULL), MC_INVALID);
    CHECK_ERROR("ttl is a null pointer");
    /* touch */
    CHECK_RC(mc_touch(h, "ex", 500), MC_OK);
    CHECK_RC(mc_ttl(h, "ex", &ttl), MC_OK);
    CHECK(ttl >= 498 && ttl <= 500);
    CHECK_RC(mc_touch(h, "ex", 50 * 86400), MC_OK);
    CHECK_RC(mc_ttl(h, "ex", &ttl), MC_OK);
    CHECK(ttl >= 50 * 86400 - 3 && ttl <= 50 * 86400 + 1);
    CHECK_RC(mc_touch(h, "ex", 0), MC_OK);
    CHECK_RC(mc_ttl(h, "ex", &ttl), MC_OK);
    CHECK_I64(ttl, -1);
    CHECK_RC(mc_touch(h, "no-ex", 10), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_RC(mc_touch(h, NULL, 10), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    /* get_and_touch */
    CHECK_RC(mc_set(h, "gat", "hello\0gat", 9, 7, 0), MC_OK);
    CHECK_RC(mc_get(h, "gat", &value, &len, NULL, &cas_get), MC_OK);
    mc_free(value);
    if (CHECK_RC(mc_get_and_touch(h, "gat", 200, &value, &len, &flags, &cas), MC_OK)) {
        CHECK_MEM(value, len, "hello\0gat", 9);
        CHECK_U64(((char *)value)[len], 0);
        CHECK_U64(flags, 7);
        CHECK_U64(cas, cas_get);
        mc_free(value);
    }
    CHECK_RC(mc_ttl(h, "gat", &ttl), MC_OK);
    CHECK(ttl >= 198 && ttl <= 200);
    if (CHECK_RC(mc_get_and_touch(h, "gat", 45 * 86400, &value, &len, NULL, NULL), MC_OK)) {
        mc_free(value);
    }
    CHECK_RC(mc_ttl(h, "gat", &ttl), MC_OK);
    CHECK(ttl >= 45 * 86400 - 3 && ttl <= 45 * 86400 + 1);
    value = &sentinel;
    len = 12;
    flags = 13;
    cas = 14;
    CHECK_RC(mc_get_and_touch(h, "no-gat", 10, &value, &len, &flags, &cas), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK(value == &sentinel);
    CHECK_U64(len, 12);
    CHECK_U64(flags, 13);
    CHECK_U64(cas, 14);

    /* memcached's own exptimes: relative up to 30 days, else a Unix time
       (not counted from the server's clock), negative gone at once */
    int32_t at = (int32_t)time(NULL) + 3600;
    CHECK_RC(mc_store_exptime(h, MC_VERB_SET, NULL, "exp", "v", 1, 0, 100, 0), MC_OK);
    CHECK_RC(mc_ttl(h, "exp", &ttl), MC_OK);
    CHECK(ttl >= 98 && ttl <= 100);
    CHECK_RC(mc_store_exptime(h, MC_VERB_SET, NULL, "exp", "v", 1, 0, at, 0), MC_OK);
    CHECK_RC(mc_ttl(h, "exp", &ttl), MC_OK);
    CHECK(ttl >= 3597 && ttl <= 3601);
    CHECK_RC(mc_touch_exptime(h, NULL, "exp", at + 3600), MC_OK);
    CHECK_RC(mc_ttl(h, "exp", &ttl), MC_OK);
    CHECK(ttl >= 7197 && ttl <= 7201);
    CHECK_RC(mc_touch_exptime(h, NULL, "exp", -1), MC_OK);
    CHECK_RC(mc_exists(h, "exp"), MC_NOTFOUND);
    CHECK_RC(mc_store_exptime(h, MC_VERB_ADD, NULL, "exp", "v", 1, 0, at - 7200, 0), MC_OK);
    CHECK_RC(mc_exists(h, "exp"), MC_NOTFOUND);
    {
        mc_entry e[2] = {{"exp1", "a", 1, 0}, {"exp2", "b", 1, 0}};
        mc_result st[2] = {MC_PANIC, MC_PANIC};
        CHECK_RC(mc_set_multi_exptime(h, NULL, e, 2, at, st), MC_OK);
        CHECK_RC(mc_ttl(h, "exp2", &ttl), MC_OK);
        CHECK(ttl >= 3597 && ttl <= 3601);
        CHECK_RC(mc_set_multi_exptime(h, NULL, e, 2, -1, st), MC_OK);
        CHECK_U64(st[0], MC_OK);
        CHECK_U64(st[1], MC_OK);
        CHECK_RC(mc_exists(h, "exp1"), MC_NOTFOUND);
    }
    CHECK_RC(mc_store_exptime(h, 9, NULL, "exp", "v", 1, 0, 0, 0), MC_INVALID);
    CHECK_ERROR("bad verb 9: must be an mc_verb from 0 to 6");
    CHECK_RC(mc_touch_exptime(h, NULL, NULL, 0), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
}

static void test_incr_decr(uint64_t h) {
    uint64_t n = 0;
    char message[256];

    CHECK_RC(mc_set(h, "n", "10", 2, 0, 0), MC_OK);
    CHECK_RC(mc_incr(h, "n", 5, &n), MC_OK);
    CHECK_U64(n, 15);
    CHECK_RC(mc_incr(h, "n", 0, &n), MC_OK);
    CHECK_U64(n, 15);
    CHECK_RC(mc_decr(h, "n", 3, &n), MC_OK);
    CHECK_U64(n, 12);
    CHECK_RC(mc_decr(h, "n", 100, &n), MC_OK); /* floor at 0 */
    CHECK_U64(n, 0);
    CHECK_RC(mc_decr(h, "n", 1, &n), MC_OK);
    CHECK_U64(n, 0);
    CHECK_RC(mc_incr(h, "n", 7, NULL), MC_OK); /* value may be null */
    CHECK_RC(mc_incr(h, "n", 0, &n), MC_OK);
    CHECK_U64(n, 7);
    /* 2^64 - 1, and wrapping */
    CHECK_RC(mc_set(h, "n", "18446744073709551615", 20, 0, 0), MC_OK);
    CHECK_RC(mc_incr(h, "n", 0, &n), MC_OK);
    CHECK_U64(n, UINT64_MAX);
    CHECK_RC(mc_incr(h, "n", 1, &n), MC_OK);
    CHECK_U64(n, 0);
    CHECK_RC(mc_incr(h, "n", UINT64_MAX, &n), MC_OK);
    CHECK_U64(n, UINT64_MAX);
    CHECK_RC(mc_incr(h, "n", 3, &n), MC_OK);
    CHECK_U64(n, 2);
    CHECK_RC(mc_decr(h, "n", UINT64_MAX, &n), MC_OK);
    CHECK_U64(n, 0);
    CHECK_RC(mc_set(h, "n", "18446744073709551615", 20, 0, 0), MC_OK);
    CHECK_RC(mc_decr(h, "n", 1, &n), MC_OK);
    CHECK_U64(n, UINT64_MAX - 1);
    /* a miss leaves the output alone */
    n = 4242;
    CHECK_RC(mc_incr(h, "no-n", 1, &n), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_U64(n, 4242);
    CHECK_RC(mc_decr(h, "no-n", 1, &n), MC_NOTFOUND);
    CHECK_ERROR("not found");
    CHECK_U64(n, 4242);
    CHECK_MISSING(h, "no-n");
    /* not a number: the server's words */
    snprintf(message, sizeof message,
             "%s: CLIENT_ERROR cannot increment or decrement non-numeric value", spec_tcp);
    CHECK_RC(mc_set(h, "text", "abc", 3, 0, 0), MC_OK);
    CHECK_RC(mc_incr(h, "text", 1, &n), MC_NOTNUMERIC);
    CHECK_ERROR(message);
    CHECK_RC(mc_decr(h, "text", 1, &n), MC_NOTNUMERIC);
    CHECK_ERROR(message);
    CHECK_U64(n, 4242);
    CHECK_VALUE(h, "text", "abc", 3, 0);
    CHECK_RC(mc_incr(h, NULL, 1, &n), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
    CHECK_RC(mc_decr(h, NULL, 1, &n), MC_INVALID);
    CHECK_ERROR("key is a null pointer");
}

static void test_servers(uint64_t h, uint64_t hm) {
    mc_stat *stats = NULL;
    size_t count = 0, i;
    char *version = NULL, raw[64];
    const char *pid0, *pid1;

    /* version: what the server says when asked directly */
    raw_version(spec_tcp, raw, sizeof raw);
    CHECK(raw[0] >= '1' && raw[0] <= '9' && strchr(raw, '.') != NULL);
    if (CHECK_RC(mc_version(h, 0, &version), MC_OK)) {
        CHECK_STR(version, raw);
        mc_free(version);
    }
    if (CHECK_RC(mc_version(hm, 1, &version), MC_OK)) {
        CHECK_STR(version, raw);
        mc_free(version);
    }
    version = (char *)"untouched";
    CHECK_RC(mc_version(h, 1, &version), MC_INVALID);
    CHECK_ERROR("server index 1 is out of range");
    CHECK_STR(version, "untouched");
    CHECK_RC(mc_version(h, 0, NULL), MC_INVALID);
    CHECK_ERROR("version is a null pointer");
    /* a bad index is told as such even when a server is down */
    {
        const char *with_dead[2];
        uint64_t hd;
        with_dead[0] = spec_tcp;
        with_dead[1] = "127.0.0.1:1";
        if (CHECK_RC(mc_create(with_dead, 2, &hd), MC_OK)) {
            CHECK_RC(mc_version(hd, 2, &version), MC_INVALID);
            CHECK_ERROR("server index 2 is out of range");
            CHECK_RC(mc_delete(hd), MC_OK);
        }
    }

    /* general stats */
    if (CHECK_RC(mc_stats(h, NULL, &stats, &count), MC_OK)) {
        CHECK(count > 10);
        pid0 = find_stat(stats, count, 0, "pid");
        CHECK(pid0 != NULL && atol(pid0) > 0);
        CHECK_STR(find_stat(stats, count, 0, "version"), raw);
        for (i = 0; i < count; i++) {
            CHECK_U64(stats[i].server, 0);
        }
        mc_free(stats);
    }
    /* two servers: each one's own */
    if (CHECK_RC(mc_stats(hm, NULL, &stats, &count), MC_OK)) {
        pid0 = find_stat(stats, count, 0, "pid");
        pid1 = find_stat(stats, count, 1, "pid");
        CHECK(pid0 != NULL && pid1 != NULL);
        if (pid0 && pid1) {
            CHECK(strcmp(pid0, pid1) != 0);
        }
        CHECK(stats[0].server == 0 && stats[count - 1].server == 1);
        for (i = 1; i < count; i++) {
            CHECK(stats[i].server >= stats[i - 1].server);
        }
        mc_free(stats);
    }
    /* a group */
    if (CHECK_RC(mc_stats(h, "settings", &stats, &count), MC_OK)) {
        CHECK_STR(find_stat(stats, count, 0, "maxbytes"), "67108864");
        CHECK_STR(find_stat(stats, count, 0, "item_size_max"), "1048576");
        CHECK(find_stat(stats, count, 0, "pid") == NULL);
        mc_free(stats);
    }
    /* an unknown group: the server's refusal, and the handle still works */
    stats = (mc_stat *)&count;
    count = 5;
    CHECK_RC(mc_stats(h, "no-such-group", &stats, &count), MC_CLIENT);
    CHECK(stats == (mc_stat *)&count);
    CHECK_U64(count, 5);
    CHECK_RC(mc_version(h, 0, &version), MC_OK);
    mc_free(version);
    if (CHECK_RC(mc_stats(h, "items", &stats, &count), MC_OK)) {
        CHECK(count > 0);
        mc_free(stats);
    }
    /* a group that would smuggle in a command of its own is refused */
    CHECK_RC(mc_set(h, "survivor", "v", 1, 0, 0), MC_OK);
    count = 5;
    CHECK_RC(mc_stats(h, "settings\r\nflush_all", &stats, &count), MC_INVALID);
    CHECK_ERROR("stats group \"settings\\x0d\\x0aflush_all\" contains control character 0x0d "
                "at byte 8");
    CHECK_RC(mc_stats(h, "items\n", &stats, &count), MC_INVALID);
    CHECK_ERROR("stats group \"items\\x0a\" contains control character 0x0a at byte 5");
    CHECK_VALUE(h, "survivor", "v", 1, 0);
    CHECK_U64(count, 5);
    CHECK_RC(mc_stats(h, NULL, NULL, &count), MC_INVALID);
    CHECK_ERROR("stats is a null pointer");
    CHECK_RC(mc_stats(h, NULL, &stats, NULL), MC_INVALID);
    CHECK_ERROR("count is a null pointer");

    /* verbosity */
    CHECK_RC(mc_verbosity(h, 1), MC_OK);
    CHECK_RC(mc_verbosity(hm, 0), MC_OK);
    CHECK_RC(mc_verbosity(h, 0), MC_OK);

    /* flush now */
    CHECK_RC(mc_set(h, "flushed", "v", 1, 0, 0), MC_OK);
    CHECK_RC(mc_flush(h, 0), MC_OK);
    CHECK_MISSING(h, "flushed");
    CHECK_RC(mc_set(h, "after-flush", "v", 1, 0, 0), MC_OK);
    CHECK_VALUE(h, "after-flush", "v", 1, 0);
}

static void test_timeouts(uint64_t h) {
    char spec[64], message[128];
    const char *s = spec;
    uint64_t ht;
    void *value = NULL;
    size_t len = 0;
    double start, took;
    int fd;

    CHECK_RC(mc_set_timeouts(h, 500, 1500), MC_OK);
    CHECK_RC(mc_set(h, "timeouts", "v", 1, 0, 0), MC_OK);
    CHECK_VALUE(h, "timeouts", "v", 1, 0);
    CHECK_RC(mc_set_timeouts(h, 0, 1000), MC_INVALID);
    CHECK_ERROR("timeouts must be at least 1 ms");
    CHECK_RC(mc_set_timeouts(h, 1000, 0), MC_INVALID);
    CHECK_ERROR("timeouts must be at least 1 ms");
    CHECK_RC(mc_set_timeouts(h, 2000, 3000), MC_OK);

    /* a server that accepts and never answers */
    fd = silent_listener(spec, sizeof spec);
    CHECK_RC(mc_create(&s, 1, &ht), MC_OK);
    CHECK_RC(mc_set_timeouts(ht, 300, 300), MC_OK);
    start = now_seconds();
    CHECK_RC(mc_get(ht, "k", &value, &len, NULL, NULL), MC_TIMEOUT);
    took = now_seconds() - start;
    snprintf(message, sizeof message, "%s: no reply within 300 ms", spec);
    CHECK_ERROR(message);
    CHECK(took >= 0.25 && took < 2.0);
    CHECK_RC(mc_delete(ht), MC_OK);
    close(fd);

    /* nobody listening: refused at once */
    CHECK_RC(mc_create(&s, 1, &ht), MC_OK);
    start = now_seconds();
    CHECK_RC(mc_set(ht, "k", "v", 1, 0, 0), MC_IO);
    took = now_seconds() - start;
    snprintf(message, sizeof message, "%s: cannot connect: ", spec);
    CHECK_CONTAINS(mc_last_error(), message);
    CHECK(took < 1.0);
    CHECK_RC(mc_delete(ht), MC_OK);
}

static void test_key_prefix(uint64_t h) {
    uint64_t hp = open_handle(spec_tcp), n = 0;
    const char *keys[] = {"pfx-a", "pfx-b", "pfx-none"};
    mc_hit *hits = NULL;
    size_t count = 0;
    char key[260];

    CHECK_RC(mc_set_key_prefix(hp, "ns:"), MC_OK);
    CHECK_RC(mc_set(hp, "pfx-a", "A", 1, 1, 0), MC_OK);
    CHECK_RC(mc_set(hp, "pfx-b", "B", 1, 2, 0), MC_OK);
    /* stored under the prefixed key */
    CHECK_VALUE(h, "ns:pfx-a", "A", 1, 1);
    CHECK_MISSING(h, "pfx-a");
    CHECK_VALUE(hp, "pfx-a", "A", 1, 1);
    /* get_multi gives the keys back without the prefix */
    if (CHECK_RC(mc_get_multi(hp, keys, 3, &hits, &count), MC_OK)) {
        CHECK_U64(count, 2);
        CHECK(find_hit(hits, count, "pfx-a") != NULL);
        CHECK(find_hit(hits, count, "pfx-b") != NULL);
        CHECK(find_hit(hits, count, "ns:pfx-a") == NULL);
        mc_free(hits);
    }
    CHECK_RC(mc_exists(hp, "pfx-b"), MC_OK);
    CHECK_RC(mc_remove(hp, "pfx-a"), MC_OK);
    CHECK_MISSING(h, "ns:pfx-a");
    CHECK_RC(mc_set(h, "ns:count", "1", 1, 0, 0), MC_OK);
    CHECK_RC(mc_incr(hp, "count", 1, &n), MC_OK);
    CHECK_U64(n, 2);
    /* the prefix counts toward the 250 bytes */
    memset(key, 'k', 247);
    key[247] = 0;
    CHECK_RC(mc_set(hp, key, "v", 1, 0, 0), MC_OK);
    key[247] = 'k';
    key[248] = 0;
    CHECK_RC(mc_set(hp, key, "v", 1, 0, 0), MC_BADKEY);
    CHECK_RC(mc_set(hp, "", "v", 1, 0, 0), MC_BADKEY);
    CHECK_ERROR("key is empty");
    /* a bad prefix is refused and the old one stays */
    CHECK_RC(mc_set_key_prefix(hp, "a b"), MC_INVALID);
    CHECK_ERROR("bad key prefix: key \"a b\" contains a space at byte 1: keys may not contain "
                "whitespace or control characters");
    CHECK_RC(mc_set_key_prefix(hp, NULL), MC_INVALID);
    CHECK_ERROR("prefix is a null pointer");
    CHECK_VALUE(hp, "pfx-b", "B", 1, 2);
    /* "" for none */
    CHECK_RC(mc_set_key_prefix(hp, ""), MC_OK);
    CHECK_VALUE(hp, "ns:pfx-b", "B", 1, 2);
    CHECK_MISSING(hp, "pfx-b");
    CHECK_RC(mc_delete(hp), MC_OK);
}

static void test_unique_key(uint64_t h) {
    char a[MC_UNIQUE_KEY_SIZE], b[MC_UNIQUE_KEY_SIZE + 10], small[MC_UNIQUE_KEY_SIZE];
    size_t i;
    int hex = 1;

    memset(b, '#', sizeof b);
    CHECK_RC(mc_unique_key(a, sizeof a), MC_OK);
    CHECK_RC(mc_unique_key(b, sizeof b), MC_OK);
    CHECK_U64(strlen(a), 32);
    CHECK_U64(a[32], 0);
    CHECK_U64(strlen(b), 32);
    CHECK_U64(b[33], '#'); /* only 33 bytes written */
    for (i = 0; i < 32; i++) {
        hex &= (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');
    }
    CHECK(hex);
    CHECK(strcmp(a, b) != 0);
    /* usable as a key */
    CHECK_RC(mc_set(h, a, "unique", 6, 0, 0), MC_OK);
    CHECK_VALUE(h, a, "unique", 6, 0);
    /* too small: nothing written */
    memset(small, '#', sizeof small);
    CHECK_RC(mc_unique_key(small, MC_UNIQUE_KEY_SIZE - 1), MC_INVALID);
    CHECK_ERROR("buffer of 32 bytes is too small for a unique key (33)");
    CHECK_U64(small[0], '#');
    CHECK_RC(mc_unique_key(small, 0), MC_INVALID);
    CHECK_ERROR("buffer of 0 bytes is too small for a unique key (33)");
    CHECK_RC(mc_unique_key(NULL, MC_UNIQUE_KEY_SIZE), MC_INVALID);
    CHECK_ERROR("buffer is a null pointer");
}

static void test_unix(uint64_t hu) {
    CHECK_RC(mc_set(hu, "on-unix", "via socket\0", 11, 9, 0), MC_OK);
    CHECK_VALUE(hu, "on-unix", "via socket\0", 11, 9);
}

/* A server started with -I 1m: a 2 MiB value is refused, the handle lives on. */
static void test_too_large(void) {
    uint64_t hs = open_handle(spec_small);
    size_t big_len = 2 * 1024 * 1024, i;
    unsigned char *big = malloc(big_len);
    char message[128];
    mc_entry entries[3];

    for (i = 0; i < big_len; i++) {
        big[i] = (unsigned char)(i % 253);
    }
    snprintf(message, sizeof message, "%s: SERVER_ERROR object too large for cache", spec_small);
    CHECK_RC(mc_set(hs, "huge", big, big_len, 0, 0), MC_TOOLARGE);
    CHECK_ERROR(message);
    CHECK_MISSING(hs, "huge");
    CHECK_RC(mc_set(hs, "small", "fits", 4, 0, 0), MC_OK);
    CHECK_VALUE(hs, "small", "fits", 4, 0);
    CHECK_RC(mc_add(hs, "huge", big, big_len, 0, 0), MC_TOOLARGE);
    CHECK_RC(mc_append(hs, "small", big, big_len), MC_TOOLARGE);
    CHECK_VALUE(hs, "small", "fits", 4, 0);
    /* half a MiB still fits */
    CHECK_RC(mc_set(hs, "half", big, 512 * 1024, 0, 0), MC_OK);
    CHECK_VALUE(hs, "half", big, 512 * 1024, 0);
    /* in a pipelined set_multi */
    entries[0].key = "m-a";
    entries[0].value = "a";
    entries[0].value_len = 1;
    entries[0].flags = 0;
    entries[1].key = "m-huge";
    entries[1].value = big;
    entries[1].value_len = big_len;
    entries[1].flags = 0;
    entries[2].key = "m-b";
    entries[2].value = "b";
    entries[2].value_len = 1;
    entries[2].flags = 0;
    mc_result statuses[3] = { MC_PANIC, MC_PANIC, MC_PANIC };
    CHECK_RC(mc_set_multi(hs, entries, 3, 0, statuses), MC_TOOLARGE);
    CHECK_ERROR(message);
    CHECK_RC(statuses[0], MC_OK);
    CHECK_RC(statuses[1], MC_TOOLARGE);
    CHECK_RC(statuses[2], MC_OK);
    CHECK_MISSING(hs, "m-huge");
    /* the items around it were stored: only the big one was refused */
    CHECK_VALUE(hs, "m-a", "a", 1, 0);
    CHECK_VALUE(hs, "m-b", "b", 1, 0);
    CHECK_RC(mc_set(hs, "small", "still", 5, 0, 0), MC_OK);
    CHECK_VALUE(hs, "small", "still", 5, 0);
    CHECK_RC(mc_delete(hs), MC_OK);
    free(big);
}

/* flush with a delay: items live on until it passes. */
static void test_delayed_flush(uint64_t hu) {
    CHECK_RC(mc_set(hu, "doomed", "v", 1, 0, 0), MC_OK);
    CHECK_RC(mc_flush(hu, 3), MC_OK);
    CHECK_VALUE(hu, "doomed", "v", 1, 0);
    sleep_ms(3500);
    CHECK_MISSING(hu, "doomed");
    CHECK_RC(mc_set(hu, "reborn", "v", 1, 0, 0), MC_OK);
    CHECK_VALUE(hu, "reborn", "v", 1, 0);
}

/* The python value format and mc_set_compress: long values go compressed
 * (flag 8 on the server), every python handle reads them back as stored,
 * with the flags given; a raw handle (the default) sees the server's bytes
 * and flags. */
static void test_compress(void) {
    uint64_t packing = open_handle(spec_tcp);
    uint64_t plain = open_handle(spec_tcp);
    uint64_t raw = open_handle(spec_tcp);
    char text[3000];
    char line[256];
    void *value = NULL;
    size_t len = 0;
    uint32_t flags = 0;
    for (size_t i = 0; i < sizeof text; i++) {
        text[i] = "compress me "[i % 12];
    }
    CHECK_RC(mc_set_value_format(packing, MC_VALUES_PYTHON), MC_OK);
    CHECK_RC(mc_set_value_format(plain, MC_VALUES_PYTHON), MC_OK);
    CHECK_RC(mc_set_value_format(raw, 3), MC_INVALID);
    CHECK_ERROR("bad value format 3: must be MC_VALUES_RAW (0), MC_VALUES_PYTHON (1) or "
                "MC_VALUES_PHP (2)");
    CHECK_RC(mc_set_compress(packing, 1000), MC_OK);
    CHECK_RC(mc_set(packing, "c-long", text, sizeof text, 16, 0), MC_OK);
    CHECK_RC(mc_set(packing, "c-short", "short", 5, 16, 0), MC_OK);
    for (int i = 0; i < 2; i++) {
        uint64_t h = i ? plain : packing;
        CHECK_RC(mc_get(h, "c-long", &value, &len, &flags, NULL), MC_OK);
        CHECK_MEM(value, len, text, sizeof text);
        CHECK_U64(flags, 16);
        mc_free(value);
    }
    CHECK_RC(mc_get(raw, "c-long", &value, &len, &flags, NULL), MC_OK);
    CHECK_U64(flags, 24);
    CHECK(len < sizeof text && ((unsigned char *)value)[0] == 0x78);
    mc_free(value);
    /* What the server holds (a meta get of the flags): flag 8 added to the
     * long one only. */
    raw_line(spec_tcp, "mg c-long f\r\n", line, sizeof line);
    CHECK_STR(line, "HD f24");
    raw_line(spec_tcp, "mg c-short f\r\n", line, sizeof line);
    CHECK_STR(line, "HD f16");
    CHECK_RC(mc_set_compress(packing, (size_t)1 << 31), MC_INVALID);
    CHECK_ERROR("bad compress size 2147483648: must be from 0 (off) to 1073741824 bytes");
    CHECK_RC(mc_set_compress(packing, 0), MC_OK);
    CHECK_RC(mc_set(packing, "c-long", text, sizeof text, 0, 0), MC_OK);
    raw_line(spec_tcp, "mg c-long f\r\n", line, sizeof line);
    CHECK_STR(line, "HD f0");
    /* PHP's format: compressed with flags 16 + 32 and the length first,
     * PHP's own flags (above bit 16) and type (a string: 0) kept. */
    CHECK_RC(mc_set_value_format(packing, MC_VALUES_PHP), MC_OK);
    CHECK_RC(mc_set_compress(packing, 1000), MC_OK);
    CHECK_RC(mc_set(packing, "c-php", text, sizeof text, 7u << 16, 0), MC_OK);
    raw_line(spec_tcp, "mg c-php f\r\n", line, sizeof line);
    CHECK_STR(line, "HD f458800");
    if (CHECK_RC(mc_get(raw, "c-php", &value, &len, &flags, NULL), MC_OK)) {
        uint32_t announced = 0;
        memcpy(&announced, value, 4);
        CHECK_U64(announced, sizeof text);
        CHECK(len < sizeof text && ((unsigned char *)value)[4] == 0x78);
        mc_free(value);
    }
    if (CHECK_RC(mc_get(packing, "c-php", &value, &len, &flags, NULL), MC_OK)) {
        CHECK_MEM(value, len, text, sizeof text);
        CHECK_U64(flags, 7u << 16);
        mc_free(value);
    }
    /* The format and its text rule, for bindings that tell text from
     * bytes. */
    uint32_t format = 9;
    CHECK_RC(mc_get_value_format(packing, &format), MC_OK);
    CHECK_U64(format, MC_VALUES_PHP);
    CHECK_U64(mc_text_flag(MC_VALUES_PYTHON), 16);
    CHECK_U64(mc_text_flag(MC_VALUES_PHP), 0);
    CHECK_U64(mc_text_flag(7), 0);
    CHECK(mc_is_text(MC_VALUES_PYTHON, 16 | 8) && !mc_is_text(MC_VALUES_PYTHON, 2));
    CHECK(mc_is_text(MC_VALUES_PHP, 3) && !mc_is_text(MC_VALUES_PHP, 4));
    CHECK(!mc_is_text(MC_VALUES_RAW, 16) && !mc_is_text(7, 16));
    /* mc_flags: what the server holds, whatever the format. */
    flags = 0;
    CHECK_RC(mc_flags(packing, "c-php", &flags), MC_OK);
    CHECK_U64(flags, (7u << 16) | 48);
    CHECK_RC(mc_flags(packing, "c-none", &flags), MC_NOTFOUND);
    CHECK_RC(mc_flags(packing, "c-php", NULL), MC_INVALID);
    CHECK_RC(mc_delete(packing), MC_OK);
    CHECK_RC(mc_delete(plain), MC_OK);
    CHECK_RC(mc_delete(raw), MC_OK);
}

static void test_delete_all(uint64_t h) {
    size_t live = 0, n = 0;
    uint64_t extra = open_handle(spec_unix);
    char msg[128];

    CHECK_RC(mc_handles(NULL, 0, &live), MC_OK);
    CHECK(live >= 4);
    CHECK_RC(mc_delete_all(&n), MC_OK);
    CHECK_U64(n, live);
    CHECK_RC(mc_handles(NULL, 0, &n), MC_OK);
    CHECK_U64(n, 0);
    snprintf(msg, sizeof msg, deleted_fmt, h);
    CHECK_RC(mc_set(h, "k", "v", 1, 0, 0), MC_BADHANDLE);
    CHECK_ERROR(msg);
    snprintf(msg, sizeof msg, deleted_fmt, extra);
    CHECK_RC(mc_delete(extra), MC_BADHANDLE);
    CHECK_ERROR(msg);
    CHECK_RC(mc_delete_all(NULL), MC_OK);
    CHECK_RC(mc_delete_all(&n), MC_OK);
    CHECK_U64(n, 0);
}

int main(int argc, char **argv) {
    const char *both[2];
    uint64_t h, hu, hm;

    if (argc != 4) {
        fprintf(stderr, "usage: %s TCP-SPEC UNIX-SOCKET-SPEC SMALL-ITEM-SPEC\n", argv[0]);
        return 2;
    }
    spec_tcp = argv[1];
    spec_unix = argv[2];
    spec_small = argv[3];

    test_results();
    test_create();
    h = open_handle(spec_tcp);
    hu = open_handle(spec_unix);
    both[0] = spec_tcp;
    both[1] = spec_unix;
    CHECK_RC(mc_create(both, 2, &hm), MC_OK);
    CHECK_RC(mc_flush(hm, 0), MC_OK);

    test_handles(h, hu, hm);
    test_deleted_handle();
    test_store_and_get(h);
    test_bad_keys(h);
    test_multi(h, hu, hm);
    test_ttl(h);
    test_incr_decr(h);
    test_key_prefix(h);
    test_unique_key(h);
    test_unix(hu);
    test_servers(h, hm);
    test_timeouts(h);
    test_too_large();
    test_delayed_flush(hu);
    test_compress();
    test_delete_all(h);
    return check_done();
}
