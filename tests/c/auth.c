/*
 * auth.c: a server that requires a login (memcached -Y, alice/secret)
 * through memcache.h: mc_set_auth, MC_AUTH with the server's words and
 * never the password.
 *
 *   auth SERVER
 */
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER\n", argv[0]);
        return 2;
    }
    const char *spec = argv[1];
    char want[256];
    uint64_t h = 0;
    void *value = NULL;
    size_t len = 0;
    if (!CHECK_RC(mc_create(&spec, 1, &h), MC_OK)) {
        return check_done();
    }
    /* No login. */
    CHECK_RC(mc_get(h, "k", &value, &len, NULL, NULL), MC_AUTH);
    snprintf(want, sizeof want,
             "%s: CLIENT_ERROR unauthenticated: the server requires a login (a username and "
             "password for the handle)",
             spec);
    CHECK_ERROR(want);
    /* A wrong password: refused, and not in the message. */
    CHECK_RC(mc_set_auth(h, "alice", "hunter2"), MC_OK);
    CHECK_RC(mc_get(h, "k", &value, &len, NULL, NULL), MC_AUTH);
    snprintf(want, sizeof want,
             "%s: login as \"alice\" refused: CLIENT_ERROR authentication failure", spec);
    CHECK_ERROR(want);
    CHECK(strstr(mc_last_error(), "hunter2") == NULL);
    /* The right one: every operation works. */
    CHECK_RC(mc_set_auth(h, "alice", "secret"), MC_OK);
    CHECK_RC(mc_set(h, "k", "v", 1, 0, 0), MC_OK);
    if (CHECK_RC(mc_get(h, "k", &value, &len, NULL, NULL), MC_OK)) {
        CHECK_MEM(value, len, "v", 1);
        mc_free(value);
    }
    /* Bad logins are refused at once; NULL removes the login. */
    CHECK_RC(mc_set_auth(h, "al ice", "x"), MC_INVALID);
    CHECK_RC(mc_set_auth(h, "alice", ""), MC_INVALID);
    CHECK_ERROR("the login of \"alice\" needs a password");
    CHECK_RC(mc_set_auth(h, NULL, NULL), MC_OK);
    CHECK_RC(mc_get(h, "k", &value, &len, NULL, NULL), MC_AUTH);
    CHECK_RC(mc_delete(h), MC_OK);
    return check_done();
}
