/*
 * libmemcached's side of tests/distribution.rs: the reference this
 * library's ketama distribution is compared with. It links Debian's
 * libmemcached (libmemcached-dev, 1.1.4), not this library.
 *
 *   ketama MODE KEYFILE HOST PORT WEIGHT [HOST PORT WEIGHT ...]
 *
 * Servers are added in the order given with memcached_server_add_with_weight
 * (PORT 0: HOST is a Unix socket path, added with
 * memcached_server_add_unix_socket_with_weight), after setting
 * MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (what PHP's OPT_LIBKETAMA_COMPATIBLE
 * and pylibmc's ketama_weighted set). KEYFILE holds one key per line.
 *
 * MODE index: prints, per key, the server index memcached_generate_hash
 *             gives (and checks memcached_server_by_key names the same
 *             server; a mismatch is a line starting "MISMATCH").
 * MODE store: stores every key with the value "libmemcached <key>";
 *             prints "stored N".
 * MODE check: reads every key back; prints "found N of M" and a line per
 *             key whose value is not "rust <key>".
 *
 * Exit status 0 unless something failed.
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 200000

static char *keys[MAX_KEYS];
static size_t key_count;

static void read_keys(const char *path) {
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = 0;
        }
        if (len == 0) {
            continue;
        }
        if (key_count == MAX_KEYS) {
            fprintf(stderr, "too many keys\n");
            exit(2);
        }
        keys[key_count] = malloc(len + 1);
        if (!keys[key_count]) {
            exit(2);
        }
        memcpy(keys[key_count], line, len + 1);
        key_count++;
    }
    fclose(f);
}

int main(int argc, char **argv) {
    memcached_st *memc;
    memcached_return_t rc;
    const char *mode;
    int i;
    size_t k;
    int failed = 0;

    if (argc < 6 || (argc - 3) % 3 != 0) {
        fprintf(stderr, "usage: %s index|store|check KEYFILE HOST PORT WEIGHT ...\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    read_keys(argv[2]);
    memc = memcached_create(NULL);
    if (!memc) {
        return 2;
    }
    rc = memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "KETAMA_WEIGHTED: %s\n", memcached_strerror(memc, rc));
        return 2;
    }
    for (i = 3; i + 2 < argc; i += 3) {
        const char *host = argv[i];
        long port = strtol(argv[i + 1], NULL, 10);
        long weight = strtol(argv[i + 2], NULL, 10);
        if (port == 0) {
            rc = memcached_server_add_unix_socket_with_weight(memc, host, (uint32_t)weight);
        } else {
            rc = memcached_server_add_with_weight(memc, host, (in_port_t)port, (uint32_t)weight);
        }
        if (rc != MEMCACHED_SUCCESS) {
            fprintf(stderr, "adding %s %ld: %s\n", host, port, memcached_strerror(memc, rc));
            return 2;
        }
    }

    if (strcmp(mode, "index") == 0) {
        for (k = 0; k < key_count; k++) {
            uint32_t index = memcached_generate_hash(memc, keys[k], strlen(keys[k]));
            const memcached_instance_st *by_index = memcached_server_instance_by_position(memc, index);
            const memcached_instance_st *by_key;
            /* memcached_server_by_key refuses keys over 250 bytes (NULL);
             * memcached_generate_hash takes any text (a group key). */
            rc = MEMCACHED_SUCCESS;
            by_key = strlen(keys[k]) <= 250
                ? memcached_server_by_key(memc, keys[k], strlen(keys[k]), &rc)
                : by_index;
            if (!by_index || !by_key || rc != MEMCACHED_SUCCESS
                || strcmp(memcached_server_name(by_index), memcached_server_name(by_key)) != 0
                || memcached_server_port(by_index) != memcached_server_port(by_key))
            {
                printf("MISMATCH %s\n", keys[k]);
                failed = 1;
                continue;
            }
            printf("%u\n", index);
        }
    } else if (strcmp(mode, "store") == 0) {
        size_t stored = 0;
        for (k = 0; k < key_count; k++) {
            char value[1100];
            int len = snprintf(value, sizeof value, "libmemcached %s", keys[k]);
            rc = memcached_set(memc, keys[k], strlen(keys[k]), value, (size_t)len, 0, 0);
            if (rc == MEMCACHED_SUCCESS) {
                stored++;
            } else {
                printf("set %s: %s\n", keys[k], memcached_strerror(memc, rc));
                failed = 1;
            }
        }
        printf("stored %lu\n", (unsigned long)stored);
    } else if (strcmp(mode, "check") == 0) {
        size_t found = 0;
        for (k = 0; k < key_count; k++) {
            char want[1100];
            size_t len = 0;
            uint32_t flags = 0;
            char *value;
            snprintf(want, sizeof want, "rust %s", keys[k]);
            value = memcached_get(memc, keys[k], strlen(keys[k]), &len, &flags, &rc);
            if (value && len == strlen(want) && memcmp(value, want, len) == 0) {
                found++;
            } else {
                printf("get %s: %s\n", keys[k], value ? "wrong value" : memcached_strerror(memc, rc));
                failed = 1;
            }
            free(value);
        }
        printf("found %lu of %lu\n", (unsigned long)found, (unsigned long)key_count);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        failed = 2;
    }
    memcached_free(memc);
    for (k = 0; k < key_count; k++) {
        free(keys[k]);
    }
    return failed;
}
