/*
 * daemon.c: local daemons from C. A socket file nobody serves gets a daemon
 * at mc_create; mc_stop and mc_start manage it; mc_create_with sets how it
 * is started.
 *
 * Usage: daemon DIR   (an empty directory for socket files)
 */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include "check.h"

static uint64_t stat_u64(uint64_t mc, const char *name) {
    mc_stat *stats = NULL;
    size_t count = 0;
    uint64_t value = 0;
    if (CHECK_RC(mc_stats(mc, NULL, &stats, &count), MC_OK)) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(stats[i].name, name) == 0) {
                value = strtoull(stats[i].value, NULL, 10);
            }
        }
        mc_free(stats);
    }
    return value;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: daemon DIR\n");
        return 2;
    }
    char path[512], msg[1024];
    int32_t outcome = 99;
    uint64_t mc;

    /* Autostart at create, owner-only socket, data kept across handles. */
    snprintf(path, sizeof path, "%s/c.sock", argv[1]);
    const char *one[] = { path };
    CHECK_RC(mc_create(one, 1, &mc), MC_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK_U64(st.st_mode & 0777, 0700);
    CHECK_RC(mc_set(mc, "k", "v", 1, 0, 0), MC_OK);
    uint64_t again;
    CHECK_RC(mc_create(one, 1, &again), MC_OK);
    CHECK_U64(stat_u64(again, "curr_items"), 1);
    CHECK_RC(mc_delete(again), MC_OK);

    /* start: -1 when served; stop: 1, then -1; start again: 1, data gone. */
    CHECK_RC(mc_start(mc, &outcome), MC_OK);
    CHECK_I64(outcome, -1);
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_I64(outcome, 1);
    outcome = 99;
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_I64(outcome, -1);
    void *value = NULL;
    size_t len = 0;
    CHECK_RC(mc_get(mc, "k", &value, &len, NULL, NULL), MC_IO);
    CHECK_RC(mc_start(mc, &outcome), MC_OK);
    CHECK_I64(outcome, 1);
    CHECK_RC(mc_get(mc, "k", &value, &len, NULL, NULL), MC_NOTFOUND);
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_RC(mc_delete(mc), MC_OK);

    /* Daemon settings: memory, socket mode, extra arguments. */
    snprintf(path, sizeof path, "%s/opts.sock", argv[1]);
    const char *args[] = { "-c", "77" };
    mc_daemon_options opts = { NULL, 16, 0770, args, 2, 0, 0, 0 };
    CHECK_RC(mc_create_with(one, 1, &opts, &mc), MC_OK);
    CHECK_U64(stat_u64(mc, "limit_maxbytes"), 16u * 1024 * 1024);
    CHECK(stat(path, &st) == 0);
    CHECK_U64(st.st_mode & 0777, 0770);
    mc_stat *settings = NULL;
    size_t count = 0;
    if (CHECK_RC(mc_stats(mc, "settings", &settings, &count), MC_OK)) {
        int found = 0;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(settings[i].name, "maxconns") == 0) {
                CHECK_STR(settings[i].value, "77");
                found = 1;
            }
        }
        CHECK(found);
        mc_free(settings);
    }
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_RC(mc_delete(mc), MC_OK);

    /* A missing binary: MC_DAEMON with the reason, no handle. */
    snprintf(path, sizeof path, "%s/nobin.sock", argv[1]);
    mc_daemon_options nobin = { "/nonexistent/memcached", 0, 0, NULL, 0, 0, 0, 0 };
    uint64_t untouched = 12345;
    CHECK_RC(mc_create_with(one, 1, &nobin, &untouched), MC_DAEMON);
    snprintf(msg, sizeof msg,
             "%s: cannot run /nonexistent/memcached: No such file or directory (os error 2) "
             "(install memcached, or set MEMCACHED to its path)",
             path);
    CHECK_ERROR(msg);
    CHECK_U64(untouched, 12345);

    /* A daemon that exits at once: its own words come back. */
    snprintf(path, sizeof path, "%s/bad.sock", argv[1]);
    const char *bad_args[] = { "-c", "notanumber" };
    mc_daemon_options bad = { NULL, 0, 0, bad_args, 2, 2000, 0, 0 };
    CHECK_RC(mc_create_with(one, 1, &bad, &untouched), MC_DAEMON);
    snprintf(msg, sizeof msg, "%s: memcached exited at once: ", path);
    CHECK_CONTAINS(mc_last_error(), msg);

    /* no_autostart: the handle starts nothing, so stopping finds nothing. */
    snprintf(path, sizeof path, "%s/none.sock", argv[1]);
    mc_daemon_options none = { .no_autostart = 1 };
    CHECK_RC(mc_create_with(one, 1, &none, &mc), MC_OK);
    CHECK(stat(path, &st) != 0);
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_I64(outcome, -1);
    CHECK(stat(path, &st) != 0);
    CHECK_RC(mc_delete(mc), MC_OK);

    /* persist: the items outlive a stop and a start. */
    snprintf(path, sizeof path, "%s/keep.sock", argv[1]);
    mc_daemon_options keep = { .persist = 1 };
    CHECK_RC(mc_create_with(one, 1, &keep, &mc), MC_OK);
    CHECK_RC(mc_set(mc, "cart", "3 plums", 7, 5, 0), MC_OK);
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_I64(outcome, 1);
    CHECK_RC(mc_start(mc, &outcome), MC_OK);
    CHECK_I64(outcome, 1);
    void *kept = NULL;
    size_t kept_len = 0;
    uint32_t kept_flags = 0;
    if (CHECK_RC(mc_get(mc, "cart", &kept, &kept_len, &kept_flags, NULL), MC_OK)) {
        CHECK_MEM(kept, kept_len, "3 plums", 7);
        CHECK_U64(kept_flags, 5);
        mc_free(kept);
    }
    CHECK_RC(mc_stop(mc, &outcome), MC_OK);
    CHECK_RC(mc_delete(mc), MC_OK);
    return check_done();
}
