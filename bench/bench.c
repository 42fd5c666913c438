/*
 * bench.c: the C side of `make bench`.
 *
 * Three clients do the same work against the same memcached, in rounds, so
 * that drift (CPU frequency, a noisy neighbour) hits all of them alike:
 *
 *   floor         hand-written requests on a plain socket: one write (a
 *                 writev for a set, so the value is not copied), then read
 *                 until the reply is complete, parsing only what it takes to
 *                 find the end. What no client can beat by much.
 *   libmemcached  libmemcached's C API (TCP_NODELAY on), the usual C client.
 *   memcache      this library's C API (memcache.h).
 *
 * Workloads, each on TCP and on the Unix socket:
 *
 *   get       get of one key with a 100-byte value (a hit)
 *   set       set of one key, 100-byte value
 *   mget100   get of 100 keys with 100-byte values in one call
 *   mset100   set of 100 keys with 100-byte values in one call
 *   get512k   get of a 512 KiB value
 *   set512k   set of a 512 KiB value
 *   get4t     get (100 B) from 4 threads at once. floor: one socket per
 *             thread; libmemcached: one memcached_st per thread (a
 *             memcached_clone, its documented way); memcache: one handle
 *             shared by the 4 threads. Each trial opens its connections
 *             anew (see trial()).
 *
 * With --tls HOST:PORT (a memcached started with -Z) and --tls-ca FILE (the
 * CA that signed its certificate), "memcache" also runs every workload over
 * TLS (transport "tls"); the other clients speak no TLS.
 *
 * Multi-set with libmemcached: it has no multi-set call. The best it
 * offers is MEMCACHED_BEHAVIOR_BUFFER_REQUESTS with NO_BLOCK: sets are
 * queued, written by memcached_flush_buffers, and their replies are read
 * only later, in bulk, by a later command (the caller never learns an
 * item's outcome). So that a multi-set ends, as this library's does, with
 * the server's 100 replies read, the "libmemcached" client follows the 100
 * buffered sets with one memcached_get of a missing key: it is written in
 * the same flight, and reading its reply first reads the pending ones (one
 * round trip in all). "libmc-async" measures the buffered sets alone,
 * replies left pending (as many as memcached_purge allows, read in bulk
 * every few calls): not the same work, shown for reference. With
 * --libmc-mset plain, "libmemcached" does 100 ordinary memcached_set calls
 * (100 round trips) instead. A libmemcached trial ends with one
 * memcached_get, which reads any reply still pending, inside the timing.
 *
 * Each trial runs one client on one workload for --time seconds of wall
 * time and records the operations done, the wall time and the process's
 * CPU time (getrusage: user + system, all threads). One row per trial is
 * appended to --out as CSV:
 *
 *   lang,client,workload,transport,pass,rep,ops,wall_s,cpu_s
 *
 * bench.tcl reads those rows, adds its own, and prints the table.
 *
 * With --ops N, each selected client does exactly N operations of each
 * selected workload once (no timing output): for counting system calls
 * under strace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <memcache.h>

#define SMALL 100
#define BIG (512 * 1024)
#define NKEYS 100
#define THREADS 4

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ----- the data every client uses ----- */

static char small_value[SMALL];
static char *big_value;
static const char *KEY = "bench:k100";
static const char *BIGKEY = "bench:big";
static char *mkeys[NKEYS];
static size_t mklens[NKEYS];

/* The server to talk to. */
typedef struct {
    const char *name; /* "tcp" or "unix" */
    const char *host; /* tcp */
    int port;         /* tcp */
    const char *path; /* unix */
} target;

/* One client: a connection (or handle) and what it can do. Every
 * operation returns 0 on success and checks what it got back. */
typedef struct client client;
struct client {
    const char *name;
    void *(*open)(const target *t);
    /* a context for another thread: a new connection, a clone, or the same */
    void *(*for_thread)(void *ctx, const target *t);
    void (*close_thread)(void *ctx);
    void (*close)(void *ctx);
    int (*get)(void *ctx, const char *key, size_t expect);
    int (*set)(void *ctx, const char *key, const char *value, size_t len);
    int (*mget)(void *ctx);
    int (*mset)(void *ctx);
    void (*end_trial)(void *ctx);
};

/* ----- the floor: a plain socket ----- */

typedef struct {
    int fd;
    char *buf;
    size_t cap;
    char *req; /* the multi-set request */
    size_t req_len;
} floor_conn;

static int connect_target(const target *t) {
    int fd;
    if (strcmp(t->name, "tcp") == 0) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)t->port);
        inet_pton(AF_INET, t->host, &sa.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect %s:%d: %s", t->host, t->port, strerror(errno));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", t->path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect %s: %s", t->path, strerror(errno));
    }
    return fd;
}

static void *floor_open(const target *t) {
    floor_conn *c = calloc(1, sizeof *c);
    c->fd = connect_target(t);
    c->cap = BIG + 64 * 1024;
    c->buf = malloc(c->cap);
    /* The multi-set request is built once per call, as a client would. */
    c->req = malloc(NKEYS * (SMALL + 64));
    return c;
}

static void *floor_for_thread(void *ctx, const target *t) {
    (void)ctx;
    return floor_open(t);
}

static void floor_close(void *ctx) {
    floor_conn *c = ctx;
    close(c->fd);
    free(c->buf);
    free(c->req);
    free(c);
}

static void send_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("write: %s", strerror(errno));
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

static size_t read_more(floor_conn *c, size_t have) {
    if (have == c->cap)
        die("reply larger than the buffer");
    for (;;) {
        ssize_t r = read(c->fd, c->buf + have, c->cap - have);
        if (r > 0)
            return have + (size_t)r;
        if (r < 0 && errno == EINTR)
            continue;
        die("read: %s", r == 0 ? "connection closed" : strerror(errno));
    }
}

/* Scans the VALUE blocks of a retrieval reply from *pos: returns 1 when
 * "END\r\n" was reached (and counts the hits), 0 when more bytes are
 * needed. A block is skipped by its length, as it must be. */
static int scan_values(const char *buf, size_t have, size_t *pos, int *hits) {
    for (;;) {
        const char *line = buf + *pos;
        const char *nl = memchr(line, '\n', have - *pos);
        if (!nl)
            return 0;
        if (nl - line == 4 && memcmp(line, "END\r", 4) == 0) {
            *pos = (size_t)(nl + 1 - buf);
            return 1;
        }
        if (memcmp(line, "VALUE ", 6) != 0)
            die("floor: unexpected reply line %.*s", (int)(nl - line), line);
        /* "VALUE <key> <flags> <bytes>\r\n": the size is the last field */
        const char *p = nl - 1;
        while (p > line && p[-1] != ' ')
            p--;
        size_t size = strtoul(p, NULL, 10);
        size_t next = (size_t)(nl + 1 - buf) + size + 2;
        if (next > have)
            return 0;
        (*hits)++;
        *pos = next;
    }
}

static int floor_get(void *ctx, const char *key, size_t expect) {
    floor_conn *c = ctx;
    char req[300];
    int n = snprintf(req, sizeof req, "get %s\r\n", key);
    struct iovec iov = {req, (size_t)n};
    send_all(c->fd, &iov, 1);
    size_t have = 0, pos = 0;
    int hits = 0;
    do
        have = read_more(c, have);
    while (!scan_values(c->buf, have, &pos, &hits));
    (void)expect;
    return hits == 1 && pos == have ? 0 : -1;
}

static int floor_set(void *ctx, const char *key, const char *value, size_t len) {
    floor_conn *c = ctx;
    char head[300];
    int n = snprintf(head, sizeof head, "set %s 0 0 %zu\r\n", key, len);
    struct iovec iov[3] = {{head, (size_t)n}, {(void *)value, len}, {"\r\n", 2}};
    send_all(c->fd, iov, 3);
    size_t have = 0;
    do
        have = read_more(c, have);
    while (c->buf[have - 1] != '\n');
    return have == 8 && memcmp(c->buf, "STORED\r\n", 8) == 0 ? 0 : -1;
}

static int floor_mget(void *ctx) {
    floor_conn *c = ctx;
    char *r = c->req;
    memcpy(r, "get", 3);
    r += 3;
    for (int i = 0; i < NKEYS; i++) {
        *r++ = ' ';
        memcpy(r, mkeys[i], mklens[i]);
        r += mklens[i];
    }
    memcpy(r, "\r\n", 2);
    r += 2;
    struct iovec iov = {c->req, (size_t)(r - c->req)};
    send_all(c->fd, &iov, 1);
    size_t have = 0, pos = 0;
    int hits = 0;
    do
        have = read_more(c, have);
    while (!scan_values(c->buf, have, &pos, &hits));
    return hits == NKEYS ? 0 : -1;
}

static int floor_mset(void *ctx) {
    floor_conn *c = ctx;
    char *r = c->req;
    for (int i = 0; i < NKEYS; i++) {
        r += sprintf(r, "set %s 0 0 %d\r\n", mkeys[i], SMALL);
        memcpy(r, small_value, SMALL);
        r += SMALL;
        memcpy(r, "\r\n", 2);
        r += 2;
    }
    struct iovec iov = {c->req, (size_t)(r - c->req)};
    send_all(c->fd, &iov, 1);
    size_t have = 0;
    int lines = 0;
    while (lines < NKEYS) {
        size_t from = have;
        have = read_more(c, have);
        for (size_t i = from; i < have; i++)
            lines += c->buf[i] == '\n';
    }
    return have == (size_t)NKEYS * 8 ? 0 : -1; /* all "STORED\r\n" */
}

static void nothing(void *ctx) { (void)ctx; }

static const client FLOOR = {
    "floor", floor_open, floor_for_thread, floor_close, floor_close,
    floor_get, floor_set, floor_mget, floor_mset, nothing,
};

/* ----- the meta floor: the same socket, memcached 1.6's meta commands -----
 *
 * What the meta protocol's quiet mode can save at best, for issue 16's
 * question (is it faster than the classic pipelines?): a multi-get of
 * "mg <key> v k q" lines ended by "mn" (hits only, then "MN"), a multi-set
 * of "ms <key> <len> q" (nothing back but failures, then "MN"). */

/* Scans "VA <size> ...\r\n<data>\r\n" blocks from *pos until the line
 * `end` ("MN" or "EN"): 1 when reached, 0 when more bytes are needed. */
static int scan_meta(const char *buf, size_t have, size_t *pos, int *hits, const char *end) {
    for (;;) {
        const char *line = buf + *pos;
        const char *nl = memchr(line, '\n', have - *pos);
        if (!nl)
            return 0;
        if (nl - line == 3 && memcmp(line, end, 2) == 0) {
            *pos = (size_t)(nl + 1 - buf);
            return 1;
        }
        if (memcmp(line, "VA ", 3) != 0)
            die("floor-meta: unexpected reply line %.*s", (int)(nl - line), line);
        size_t size = strtoul(line + 3, NULL, 10);
        size_t next = (size_t)(nl + 1 - buf) + size + 2;
        if (next > have)
            return 0;
        (*hits)++;
        *pos = next;
    }
}

static int meta_get(void *ctx, const char *key, size_t expect) {
    floor_conn *c = ctx;
    char req[300];
    int n = snprintf(req, sizeof req, "mg %s v f\r\n", key);
    struct iovec iov = {req, (size_t)n};
    send_all(c->fd, &iov, 1);
    size_t have = 0, pos = 0;
    int hits = 0;
    /* one VA block, then nothing: "EN" would be a miss */
    do
        have = read_more(c, have);
    while (!scan_meta(c->buf, have, &pos, &hits, "EN") && hits == 0);
    (void)expect;
    return hits == 1 && pos == have ? 0 : -1;
}

static int meta_set(void *ctx, const char *key, const char *value, size_t len) {
    floor_conn *c = ctx;
    char head[300];
    int n = snprintf(head, sizeof head, "ms %s %zu\r\n", key, len);
    struct iovec iov[3] = {{head, (size_t)n}, {(void *)value, len}, {"\r\n", 2}};
    send_all(c->fd, iov, 3);
    size_t have = 0;
    do
        have = read_more(c, have);
    while (c->buf[have - 1] != '\n');
    return have == 4 && memcmp(c->buf, "HD\r\n", 4) == 0 ? 0 : -1;
}

static int meta_mget(void *ctx) {
    floor_conn *c = ctx;
    char *r = c->req;
    for (int i = 0; i < NKEYS; i++) {
        memcpy(r, "mg ", 3);
        r += 3;
        memcpy(r, mkeys[i], mklens[i]);
        r += mklens[i];
        memcpy(r, " v k q\r\n", 8);
        r += 8;
    }
    memcpy(r, "mn\r\n", 4);
    r += 4;
    struct iovec iov = {c->req, (size_t)(r - c->req)};
    send_all(c->fd, &iov, 1);
    size_t have = 0, pos = 0;
    int hits = 0;
    do
        have = read_more(c, have);
    while (!scan_meta(c->buf, have, &pos, &hits, "MN"));
    return hits == NKEYS ? 0 : -1;
}

static int meta_mset(void *ctx) {
    floor_conn *c = ctx;
    char *r = c->req;
    for (int i = 0; i < NKEYS; i++) {
        r += sprintf(r, "ms %s %d q\r\n", mkeys[i], SMALL);
        memcpy(r, small_value, SMALL);
        r += SMALL;
        memcpy(r, "\r\n", 2);
        r += 2;
    }
    memcpy(r, "mn\r\n", 4);
    r += 4;
    struct iovec iov = {c->req, (size_t)(r - c->req)};
    send_all(c->fd, &iov, 1);
    size_t have = 0;
    do
        have = read_more(c, have);
    while (c->buf[have - 1] != '\n');
    return have == 4 && memcmp(c->buf, "MN\r\n", 4) == 0 ? 0 : -1;
}

static const client FLOOR_META = {
    "floor-meta", floor_open, floor_for_thread, floor_close, floor_close,
    meta_get, meta_set, meta_mget, meta_mset, nothing,
};

/* ----- libmemcached ----- */

typedef struct {
    memcached_st *mc;
    memcached_st *buffered; /* for the multi-set (BUFFER_REQUESTS) */
    memcached_result_st result;
} libmc_conn;

static int libmc_buffered_mset = 1;

static memcached_st *libmc_new(const target *t) {
    memcached_st *mc = memcached_create(NULL);
    memcached_return_t rc;
    if (strcmp(t->name, "tcp") == 0)
        rc = memcached_server_add(mc, t->host, (in_port_t)t->port);
    else
        rc = memcached_server_add_unix_socket(mc, t->path);
    if (rc != MEMCACHED_SUCCESS)
        die("libmemcached: add server: %s", memcached_strerror(mc, rc));
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    return mc;
}

static libmc_conn *libmc_wrap(memcached_st *mc, const target *t) {
    libmc_conn *c = calloc(1, sizeof *c);
    c->mc = mc;
    memcached_result_create(mc, &c->result);
    if (libmc_buffered_mset && t) {
        c->buffered = libmc_new(t);
        memcached_behavior_set(c->buffered, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
        memcached_behavior_set(c->buffered, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    }
    return c;
}

static void *libmc_open(const target *t) { return libmc_wrap(libmc_new(t), t); }

static void *libmc_for_thread(void *ctx, const target *t) {
    libmc_conn *c = ctx;
    (void)t;
    /* one memcached_st per thread: libmemcached's documented way */
    return libmc_wrap(memcached_clone(NULL, c->mc), NULL);
}

static void libmc_close(void *ctx) {
    libmc_conn *c = ctx;
    memcached_result_free(&c->result);
    memcached_free(c->mc);
    if (c->buffered)
        memcached_free(c->buffered);
    free(c);
}

static int libmc_get(void *ctx, const char *key, size_t expect) {
    libmc_conn *c = ctx;
    size_t len;
    uint32_t flags;
    memcached_return_t rc;
    char *v = memcached_get(c->mc, key, strlen(key), &len, &flags, &rc);
    if (!v)
        return -1;
    free(v);
    return len == expect ? 0 : -1;
}

static int libmc_set(void *ctx, const char *key, const char *value, size_t len) {
    libmc_conn *c = ctx;
    return memcached_set(c->mc, key, strlen(key), value, len, 0, 0) == MEMCACHED_SUCCESS ? 0 : -1;
}

static int libmc_mget(void *ctx) {
    libmc_conn *c = ctx;
    if (memcached_mget(c->mc, (const char *const *)mkeys, mklens, NKEYS) != MEMCACHED_SUCCESS)
        return -1;
    int hits = 0;
    memcached_return_t rc;
    while (memcached_fetch_result(c->mc, &c->result, &rc))
        hits++;
    return hits == NKEYS ? 0 : -1;
}

static int libmc_mset_sets(libmc_conn *c) {
    memcached_st *mc = c->buffered ? c->buffered : c->mc;
    for (int i = 0; i < NKEYS; i++) {
        memcached_return_t rc = memcached_set(mc, mkeys[i], mklens[i], small_value, SMALL, 0, 0);
        if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_BUFFERED)
            return -1;
    }
    if (c->buffered && memcached_flush_buffers(mc) != MEMCACHED_SUCCESS)
        return -1;
    return 0;
}

/* Buffered sets, then a get that reads their replies (see the top). */
static int libmc_mset(void *ctx) {
    libmc_conn *c = ctx;
    if (libmc_mset_sets(c))
        return -1;
    if (c->buffered) {
        size_t len;
        uint32_t flags;
        memcached_return_t rc;
        char *v = memcached_get(c->buffered, "bench:none", 10, &len, &flags, &rc);
        free(v);
        if (v || rc != MEMCACHED_NOTFOUND)
            return -1;
    }
    return 0;
}

/* Buffered sets alone, replies left pending. */
static int libmc_async_mset(void *ctx) { return libmc_mset_sets(ctx); }

/* Reads the replies a buffered multi-set left pending. */
static void libmc_end_trial(void *ctx) {
    libmc_conn *c = ctx;
    if (c->buffered) {
        size_t len;
        uint32_t flags;
        memcached_return_t rc;
        free(memcached_get(c->buffered, KEY, strlen(KEY), &len, &flags, &rc));
    }
}

static const client LIBMC = {
    "libmemcached", libmc_open, libmc_for_thread, libmc_close, libmc_close,
    libmc_get, libmc_set, libmc_mget, libmc_mset, libmc_end_trial,
};

static void *libmc_async_open(const target *t) {
    if (!libmc_buffered_mset)
        return NULL;
    return libmc_open(t);
}

/* Only for mset100 (see `supports`). */
static const client LIBMC_ASYNC = {
    "libmc-async", libmc_async_open, libmc_for_thread, libmc_close, libmc_close,
    libmc_get, libmc_set, libmc_mget, libmc_async_mset, libmc_end_trial,
};

/* ----- this library ----- */

typedef struct {
    uint64_t h;
    int owner;
} mc_conn;

/* The CA file of --tls-ca. */
static const char *tls_ca;

static void *ours_open(const target *t) {
    char spec[300];
    if (strcmp(t->name, "tcp") == 0)
        snprintf(spec, sizeof spec, "%s:%d", t->host, t->port);
    else if (strcmp(t->name, "tls") == 0)
        snprintf(spec, sizeof spec, "tls://%s:%d", t->host, t->port);
    else
        snprintf(spec, sizeof spec, "%s", t->path);
    const char *servers[] = {spec};
    const char *settings[] = {"tlsca", tls_ca ? tls_ca : ""};
    mc_conn *c = calloc(1, sizeof *c);
    if (mc_create_configured(servers, 1, settings, 1, &c->h) != MC_OK)
        die("mc_create %s: %s", spec, mc_last_error());
    c->owner = 1;
    return c;
}

static void *ours_for_thread(void *ctx, const target *t) {
    (void)t;
    mc_conn *c = calloc(1, sizeof *c);
    c->h = ((mc_conn *)ctx)->h; /* the same handle, shared */
    return c;
}

static void ours_close(void *ctx) {
    mc_conn *c = ctx;
    if (c->owner)
        mc_delete(c->h);
    free(c);
}

static int ours_get(void *ctx, const char *key, size_t expect) {
    mc_conn *c = ctx;
    void *v;
    size_t len;
    uint32_t flags;
    if (mc_get(c->h, key, &v, &len, &flags, NULL) != MC_OK)
        return -1;
    mc_free(v);
    return len == expect ? 0 : -1;
}

static int ours_set(void *ctx, const char *key, const char *value, size_t len) {
    mc_conn *c = ctx;
    return mc_set(c->h, key, value, len, 0, 0) == MC_OK ? 0 : -1;
}

static int ours_mget(void *ctx) {
    mc_conn *c = ctx;
    mc_hit *hits;
    size_t n;
    if (mc_get_multi(c->h, (const char *const *)mkeys, NKEYS, &hits, &n) != MC_OK)
        return -1;
    mc_free(hits);
    return n == NKEYS ? 0 : -1;
}

static int ours_mset(void *ctx) {
    mc_conn *c = ctx;
    mc_entry entries[NKEYS];
    mc_result statuses[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        entries[i].key = mkeys[i];
        entries[i].value = small_value;
        entries[i].value_len = SMALL;
        entries[i].flags = 0;
    }
    return mc_set_multi(c->h, entries, NKEYS, 0, statuses) == MC_OK ? 0 : -1;
}

static const client OURS = {
    "memcache", ours_open, ours_for_thread, ours_close, ours_close,
    ours_get, ours_set, ours_mget, ours_mset, nothing,
};

static const client *CLIENTS[] = {&FLOOR, &FLOOR_META, &LIBMC, &OURS, &LIBMC_ASYNC};
#define NCLIENTS 4

/* ----- workloads ----- */

enum { W_GET, W_SET, W_MGET, W_MSET, W_GETBIG, W_SETBIG, W_GET4T, NWORK };
static const char *WORK[NWORK] = {"get", "set", "mget100", "mset100", "get512k", "set512k", "get4t"};

/* Whether client `cl` takes part in workload `w`. */
static int supports(const client *cl, int w) { return cl != &LIBMC_ASYNC || w == W_MSET; }

static int one_op(const client *cl, void *ctx, int w) {
    switch (w) {
    case W_GET:
    case W_GET4T:
        return cl->get(ctx, KEY, SMALL);
    case W_SET:
        return cl->set(ctx, KEY, small_value, SMALL);
    case W_MGET:
        return cl->mget(ctx);
    case W_MSET:
        return cl->mset(ctx);
    case W_GETBIG:
        return cl->get(ctx, BIGKEY, BIG);
    case W_SETBIG:
        return cl->set(ctx, BIGKEY, big_value, BIG);
    }
    return -1;
}

/* Runs operations until `until` (wall clock), or `limit` of them if it is
 * not negative. */
static long run_ops(const client *cl, void *ctx, int w, double until, long limit) {
    long n = 0;
    while (limit >= 0 ? n < limit : now() < until) {
        if (one_op(cl, ctx, w) != 0)
            die("%s %s failed after %ld operations", cl->name, WORK[w], n);
        n++;
    }
    return n;
}

typedef struct {
    const client *cl;
    void *ctx;
    pthread_barrier_t *start;
    double secs;
    long limit;
    long ops;
} worker;

static void *work_thread(void *arg) {
    worker *wk = arg;
    /* a first operation outside the timing opens the thread's connection */
    if (one_op(wk->cl, wk->ctx, W_GET4T) != 0)
        die("%s %s failed", wk->cl->name, WORK[W_GET4T]);
    pthread_barrier_wait(wk->start);
    wk->ops = run_ops(wk->cl, wk->ctx, W_GET4T, now() + wk->secs, wk->limit);
    return NULL;
}

typedef struct {
    long ops;
    double wall, cpu;
} result;

static result trial(const client *cl, void *ctx, const target *t, int w, double secs, long limit) {
    result r;
    if (w != W_GET4T) {
        double c0 = cpu_now(), t0 = now();
        r.ops = run_ops(cl, ctx, w, t0 + secs, limit);
        cl->end_trial(ctx);
        r.wall = now() - t0;
        r.cpu = cpu_now() - c0;
        return r;
    }
    /* 4 threads; contexts are made before the clock starts. Every trial
     * makes its own: a client's connections are then all new and opened
     * back to back, while no other client connects, and memcached, which
     * hands new connections to its worker threads in turn, spreads each
     * client's four evenly. (A handle kept from earlier workloads brings
     * connections accepted at other times, possibly three of four on one
     * worker: the shared handle measured 0.72-0.89x libmemcached over the
     * Unix socket that way, 0.94-0.98x with a handle per trial.) */
    (void)ctx;
    void *shared = cl->open(t);
    pthread_t tids[THREADS];
    worker wk[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) {
        wk[i] = (worker){cl, cl->for_thread(shared, t), &start, secs, limit, 0};
        pthread_create(&tids[i], NULL, work_thread, &wk[i]);
    }
    double c0 = cpu_now(), t0 = now();
    pthread_barrier_wait(&start);
    r.ops = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        r.ops += wk[i].ops;
    }
    r.wall = now() - t0;
    r.cpu = cpu_now() - c0;
    for (int i = 0; i < THREADS; i++)
        cl->close_thread(wk[i].ctx);
    cl->close(shared);
    pthread_barrier_destroy(&start);
    return r;
}

/* ----- main ----- */

static int selected(const char *list, const char *name) {
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench [--tcp HOST:PORT] [--unix PATH] [--reps N] [--time SECONDS]\n"
            "             [--out FILE] [--pass N] [--clients LIST] [--workloads LIST]\n"
            "             [--transports LIST] [--libmc-mset buffered|plain] [--ops N]\n"
            "             [--tls HOST:PORT --tls-ca FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    target targets[3];
    int ntargets = 0;
    int reps = 3, pass = 1;
    double secs = 0.15;
    long limit = -1;
    const char *out = NULL, *only_clients = NULL, *only_work = NULL, *only_transports = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if ((strcmp(a, "--tcp") == 0 || strcmp(a, "--unix") == 0 || strcmp(a, "--tls") == 0) &&
            ntargets == 3)
            usage();
        if (strcmp(a, "--tcp") == 0 || strcmp(a, "--tls") == 0) {
            static char hosts[2][256];
            int is_tls = strcmp(a, "--tls") == 0;
            char *host = hosts[is_tls];
            const char *colon = strrchr(v, ':');
            if (!colon)
                usage();
            snprintf(host, sizeof hosts[0], "%.*s", (int)(colon - v), v);
            targets[ntargets++] = (target){is_tls ? "tls" : "tcp", host, atoi(colon + 1), NULL};
        } else if (strcmp(a, "--tls-ca") == 0) {
            tls_ca = v;
        } else if (strcmp(a, "--unix") == 0) {
            targets[ntargets++] = (target){"unix", NULL, 0, v};
        } else if (strcmp(a, "--reps") == 0) {
            reps = atoi(v);
        } else if (strcmp(a, "--pass") == 0) {
            pass = atoi(v);
        } else if (strcmp(a, "--time") == 0) {
            secs = atof(v);
        } else if (strcmp(a, "--ops") == 0) {
            limit = atol(v);
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--clients") == 0) {
            only_clients = v;
        } else if (strcmp(a, "--workloads") == 0) {
            only_work = v;
        } else if (strcmp(a, "--transports") == 0) {
            only_transports = v;
        } else if (strcmp(a, "--libmc-mset") == 0) {
            libmc_buffered_mset = strcmp(v, "plain") != 0;
        } else {
            usage();
        }
    }
    if (ntargets == 0)
        usage();

    memset(small_value, 'v', SMALL);
    big_value = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big_value[i] = (char)('a' + i % 26);
    for (int i = 0; i < NKEYS; i++) {
        mkeys[i] = malloc(32);
        mklens[i] = (size_t)snprintf(mkeys[i], 32, "bench:m%d", i);
    }
    FILE *csv = NULL;
    if (out && !(csv = fopen(out, "a")))
        die("%s: %s", out, strerror(errno));

    for (int ti = 0; ti < ntargets; ti++) {
        const target *t = &targets[ti];
        if (!selected(only_transports, t->name))
            continue;
        void *ctx[NCLIENTS];
        /* Over TLS, only this library. */
        int tls = strcmp(t->name, "tls") == 0;
        for (int ci = 0; ci < NCLIENTS; ci++)
            ctx[ci] = selected(only_clients, CLIENTS[ci]->name) && (!tls || CLIENTS[ci] == &OURS)
                          ? CLIENTS[ci]->open(t)
                          : NULL;
        /* The items every get reads, stored by this library (and checked
         * by each client's first operation). */
        {
            void *seed = OURS.open(t);
            if (OURS.set(seed, KEY, small_value, SMALL) || OURS.set(seed, BIGKEY, big_value, BIG) ||
                OURS.mset(seed))
                die("cannot store the benchmark's items: %s", mc_last_error());
            OURS.close(seed);
        }
        for (int w = 0; w < NWORK; w++) {
            if (!selected(only_work, WORK[w]))
                continue;
            if (limit >= 0) {
                for (int ci = 0; ci < NCLIENTS; ci++)
                    if (ctx[ci] && supports(CLIENTS[ci], w))
                        trial(CLIENTS[ci], ctx[ci], t, w, 0, limit);
                continue;
            }
            /* warm-up: connections open, buffers grown, caches warm */
            for (int ci = 0; ci < NCLIENTS; ci++)
                if (ctx[ci] && supports(CLIENTS[ci], w))
                    trial(CLIENTS[ci], ctx[ci], t, w, secs / 4, -1);
            for (int rep = 0; rep < reps; rep++) {
                /* the order rotates, so no client always follows another */
                for (int k = 0; k < NCLIENTS; k++) {
                    int ci = (k + rep + pass) % NCLIENTS;
                    if (!ctx[ci] || !supports(CLIENTS[ci], w))
                        continue;
                    result r = trial(CLIENTS[ci], ctx[ci], t, w, secs, -1);
                    FILE *f = csv ? csv : stdout;
                    fprintf(f, "c,%s,%s,%s,%d,%d,%ld,%.6f,%.6f\n", CLIENTS[ci]->name, WORK[w],
                            t->name, pass, rep, r.ops, r.wall, r.cpu);
                    fflush(f);
                }
            }
        }
        for (int ci = 0; ci < NCLIENTS; ci++)
            if (ctx[ci])
                CLIENTS[ci]->close(ctx[ci]);
    }
    if (csv)
        fclose(csv);
    return 0;
}
