/*
 * report.c: a C program that reads what the Tcl requests of session.tcl
 * keep in memcached: another process, another language, the same daemon.
 *
 *   report SOCKET SESSION...
 *
 * mc_create on the socket file finds the memcached that the first request
 * started (it would start one if none were running). The keys are those of
 * session.tcl, which works under the key prefix "shop:", so this handle
 * uses that prefix too. Text that Tcl stored arrives here as UTF-8 bytes.
 *
 * Build: cc -Iinclude examples/report.c -Ltarget/release -lmemcache -o report
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <memcache.h>

static int fail(const char *what, mc_result r) {
    fprintf(stderr, "report: %s: %s: %s\n", what, mc_result_name(r), mc_last_error());
    return 1;
}

/* Copies the value of statistic `name` of the handle's server to `out`
 * ("?" if there is none). */
static void stat_value(uint64_t mc, const char *name, char *out, size_t size) {
    mc_stat *stats = NULL;
    size_t count = 0;
    snprintf(out, size, "?");
    if (mc_stats(mc, NULL, &stats, &count) != MC_OK) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(stats[i].name, name) == 0) {
            snprintf(out, size, "%s", stats[i].value);
        }
    }
    mc_free(stats);
}

/* Prints a cart, stored as one item a line, as "a, b, c". */
static void print_cart(const mc_hit *cart) {
    if (cart == NULL || cart->value_len == 0) {
        printf("empty");
        return;
    }
    const char *text = (const char *)cart->value;
    size_t start = 0;
    for (size_t i = 0; i < cart->value_len; i++) {
        if (text[i] == '\n') {
            printf("%s%.*s", start == 0 ? "" : ", ", (int)(i - start), text + start);
            start = i + 1;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: report SOCKET SESSION...\n");
        return 2;
    }
    const char *servers[] = { argv[1] };
    uint64_t mc;
    mc_result r = mc_create(servers, 1, &mc);
    if (r != MC_OK) {
        return fail("mc_create", r);
    }
    if ((r = mc_set_key_prefix(mc, "shop:")) != MC_OK) {
        return fail("mc_set_key_prefix", r);
    }

    char pid[32], items[32];
    stat_value(mc, "pid", pid, sizeof pid);
    stat_value(mc, "curr_items", items, sizeof items);
    printf("report (C program, pid %ld): memcached pid %s on %s holds %s items\n",
           (long)getpid(), pid, argv[1], items);

    /* One key: mc_get. */
    void *value = NULL;
    size_t len = 0;
    r = mc_get(mc, "requests", &value, &len, NULL, NULL);
    if (r == MC_OK) {
        printf("  requests served: %.*s\n", (int)len, (const char *)value);
        mc_free(value);
    } else if (r == MC_NOTFOUND) {
        printf("  requests served: none\n");
    } else {
        return fail("mc_get", r);
    }

    /* Each session's two keys in one round trip: mc_get_multi. */
    for (int s = 2; s < argc; s++) {
        char visits[128], cart[128];
        if (strlen(argv[s]) > 64) {
            fprintf(stderr, "report: session id too long: %s\n", argv[s]);
            return 2;
        }
        snprintf(visits, sizeof visits, "%s:visits", argv[s]);
        snprintf(cart, sizeof cart, "%s:cart", argv[s]);
        const char *keys[] = { visits, cart };
        mc_hit *hits = NULL;
        size_t count = 0;
        if ((r = mc_get_multi(mc, keys, 2, &hits, &count)) != MC_OK) {
            return fail("mc_get_multi", r);
        }
        const mc_hit *seen = NULL, *items_hit = NULL;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(hits[i].key, visits) == 0) {
                seen = &hits[i];
            } else if (strcmp(hits[i].key, cart) == 0) {
                items_hit = &hits[i];
            }
        }
        printf("  session %s: %s visit%s, cart: ", argv[s],
               seen ? (const char *)seen->value : "no",
               seen && strcmp((const char *)seen->value, "1") == 0 ? "" : "s");
        print_cart(items_hit);
        printf("\n");
        mc_free(hits);
    }
    mc_delete(mc);
    return 0;
}
