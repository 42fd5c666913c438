/*
 * check.h: the few checks the C test programs share.
 *
 * Every check counts; a failed one prints one line with file:line, what was
 * expected and what came instead. check_done() prints "ok N checks" when all
 * passed and gives the exit status. Counters are atomic, so threads may check.
 */
#ifndef MC_TEST_CHECK_H
#define MC_TEST_CHECK_H

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memcache.h>

static atomic_ulong checks_run;
static atomic_ulong checks_failed;

static inline int check_fail_(void) {
    atomic_fetch_add(&checks_run, 1);
    atomic_fetch_add(&checks_failed, 1);
    return 0;
}

static inline int check_pass_(void) {
    atomic_fetch_add(&checks_run, 1);
    return 1;
}

/* A condition that must hold. */
static inline int check_true_(const char *file, int line, const char *expr, int ok) {
    if (ok) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: expected %s to be true, it is false\n", file, line, expr);
    return check_fail_();
}

/* A result code, with mc_last_error() shown when it is not the one expected. */
static inline int check_rc_(const char *file, int line, const char *expr, mc_result got,
                     mc_result want) {
    if (got == want) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: %s: expected %s, got %s (last error: \"%s\")\n", file, line,
            expr, mc_result_name(want), mc_result_name(got), mc_last_error());
    return check_fail_();
}

/* Two strings (either may be NULL). */
static inline int check_str_(const char *file, int line, const char *expr, const char *got,
                      const char *want) {
    if (got == want || (got != NULL && want != NULL && strcmp(got, want) == 0)) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: %s: expected \"%s\", got \"%s\"\n", file, line, expr,
            want ? want : "(null)", got ? got : "(null)");
    return check_fail_();
}

/* A string that contains another. */
static inline int check_contains_(const char *file, int line, const char *expr, const char *got,
                           const char *part) {
    if (got != NULL && strstr(got, part) != NULL) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: %s: expected a string containing \"%s\", got \"%s\"\n", file,
            line, expr, part, got ? got : "(null)");
    return check_fail_();
}

/* Two unsigned numbers. */
static inline int check_u64_(const char *file, int line, const char *expr, uint64_t got,
                      uint64_t want) {
    if (got == want) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: %s: expected %" PRIu64 ", got %" PRIu64 "\n", file, line, expr,
            want, got);
    return check_fail_();
}

/* Two signed numbers. */
static inline int check_i64_(const char *file, int line, const char *expr, int64_t got,
                      int64_t want) {
    if (got == want) {
        return check_pass_();
    }
    fprintf(stderr, "%s:%d: %s: expected %" PRId64 ", got %" PRId64 "\n", file, line, expr,
            want, got);
    return check_fail_();
}

/* Two byte buffers: lengths and contents. */
static inline int check_mem_(const char *file, int line, const char *expr, const void *got,
                      size_t got_len, const void *want, size_t want_len) {
    size_t i;
    if (got_len == want_len && (want_len == 0 || (got && memcmp(got, want, want_len) == 0))) {
        return check_pass_();
    }
    if (got == NULL) {
        fprintf(stderr, "%s:%d: %s: expected %zu bytes, got a null pointer\n", file, line,
                expr, want_len);
        return check_fail_();
    }
    for (i = 0; i < got_len && i < want_len; i++) {
        if (((const unsigned char *)got)[i] != ((const unsigned char *)want)[i]) {
            break;
        }
    }
    fprintf(stderr,
            "%s:%d: %s: expected %zu bytes, got %zu bytes, first difference at byte %zu "
            "(expected 0x%02x, got 0x%02x)\n",
            file, line, expr, want_len, got_len, i,
            i < want_len ? ((const unsigned char *)want)[i] : 0u,
            i < got_len ? ((const unsigned char *)got)[i] : 0u);
    return check_fail_();
}

#define CHECK(cond) check_true_(__FILE__, __LINE__, #cond, (cond) ? 1 : 0)
#define CHECK_RC(call, want) check_rc_(__FILE__, __LINE__, #call, (call), (want))
#define CHECK_STR(got, want) check_str_(__FILE__, __LINE__, #got, (got), (want))
#define CHECK_CONTAINS(got, part) check_contains_(__FILE__, __LINE__, #got, (got), (part))
#define CHECK_U64(got, want) \
    check_u64_(__FILE__, __LINE__, #got, (uint64_t)(got), (uint64_t)(want))
#define CHECK_I64(got, want) \
    check_i64_(__FILE__, __LINE__, #got, (int64_t)(got), (int64_t)(want))
#define CHECK_MEM(got, got_len, want, want_len) \
    check_mem_(__FILE__, __LINE__, #got, (got), (got_len), (want), (want_len))
/* The message of the last failed call on this thread. */
#define CHECK_ERROR(want) check_str_(__FILE__, __LINE__, "mc_last_error()", mc_last_error(), (want))

/* Prints the summary line; the exit status for main. */
static inline int check_done(void) {
    unsigned long run = atomic_load(&checks_run);
    unsigned long failed = atomic_load(&checks_failed);
    if (failed > 0) {
        printf("FAILED %lu of %lu checks\n", failed, run);
        return 1;
    }
    printf("ok %lu checks\n", run);
    return 0;
}

#endif /* MC_TEST_CHECK_H */
