/*
 * cart-fcgi.c: the cart of cart.tcl as a FastCGI program (libfcgi), the way
 * a busy site runs it: one process makes the memcache handle, then forks
 * WORKERS workers that all accept requests on the socket the web server
 * handed over and all use that handle (each opens its own connections: the
 * library never lets a child use its parent's).
 *
 *   GET /fcgi?user=alice&item=apple      (adds, shows the cart)
 *
 *   cart-fcgi [WORKERS]    (default 4; the socket file of the cart's
 *                           memcached is $CART_SOCKET, default ./cart.sock)
 *
 * The daemon is started by the first request that needs it (the handle is
 * made without autostart, and a request that finds no daemon starts one:
 * the lock file beside the socket makes that one daemon however many
 * workers try at once).
 *
 * Build: cc cart-fcgi.c -lfcgi -lmemcache
 */
#include <fcgi_stdio.h>

#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memcache.h>

/* The value of query parameter `name` (URL-decoded) into `out`. */
static int param(const char *query, const char *name, char *out, size_t size) {
    size_t name_len = strlen(name);
    const char *p = query;
    while (p && *p) {
        if (strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            p += name_len + 1;
            size_t n = 0;
            while (*p && *p != '&' && n + 1 < size) {
                if (*p == '%' && p[1] && p[2]) {
                    char hex[3] = {p[1], p[2], 0};
                    out[n++] = (char)strtol(hex, NULL, 16);
                    p += 3;
                } else {
                    out[n++] = *p == '+' ? ' ' : *p;
                    p++;
                }
            }
            out[n] = 0;
            return 1;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return 0;
}

/* mc_update's function: the cart with one more item ("a b c" + " item"). */
struct add {
    const char *item;
    char *cart;
};

static uint32_t add_item(void *user, const void *old, size_t old_len, uint32_t old_flags,
                         int found, mc_update_value *store) {
    struct add *a = user;
    size_t item_len = strlen(a->item);
    (void)old_flags;
    if (!found) {
        old_len = 0;
    }
    char *cart = realloc(a->cart, old_len + 1 + item_len + 1);
    if (cart == NULL) {
        return MC_CHANGE_ABORT;
    }
    a->cart = cart;
    if (old_len > 0) {
        memcpy(cart, old, old_len);
        cart[old_len++] = ' ';
    }
    memcpy(cart + old_len, a->item, item_len + 1);
    store->value = cart;
    store->len = old_len + item_len;
    store->flags = 16; /* text, as Tcl's and Python's clients mark it */
    return MC_CHANGE_STORE;
}

static void serve(uint64_t mc) {
    while (FCGI_Accept() >= 0) {
        const char *query = getenv("QUERY_STRING");
        char user[128], item[128], key[160];
        printf("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        if (!query || !param(query, "user", user, sizeof user) ||
            !param(query, "item", item, sizeof item)) {
            printf("usage: /fcgi?user=NAME&item=ITEM\n");
            continue;
        }
        snprintf(key, sizeof key, "cart:%s", user);
        struct add a = {item, NULL};
        mc_result r = mc_update(mc, key, 3600, add_item, &a);
        if (r == MC_IO) {
            /* No daemon yet (or it was stopped): start it, try again. */
            int32_t started = 0;
            if (mc_start(mc, &started) == MC_OK && started != 0) {
                r = mc_update(mc, key, 3600, add_item, &a);
            }
        }
        if (r == MC_OK) {
            printf("%s: %s\n", user, a.cart);
        } else {
            printf("error: %s: %s\n", mc_result_name(r), mc_last_error());
        }
        free(a.cart);
    }
}

int main(int argc, char **argv) {
    int workers = argc > 1 ? atoi(argv[1]) : 4;
    const char *socket = getenv("CART_SOCKET") ? getenv("CART_SOCKET") : "./cart.sock";
    uint64_t mc = 0;
    /* The handle first, then the workers, which share it. */
    mc_daemon_options lazy = {.no_autostart = 1};
    if (mc_create_with(&socket, 1, &lazy, &mc) != MC_OK) {
        fprintf(stderr, "cart-fcgi: %s\n", mc_last_error());
        return 1;
    }
    for (int i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* A worker ends with its parent (the web server stops that). */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            serve(mc);
            _exit(0);
        }
    }
    /* The parent stays while its workers run (the web server stops it, and
       they go with it). */
    while (wait(NULL) > 0) {
    }
    return 0;
}
