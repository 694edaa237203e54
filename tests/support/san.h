/* san.h: how much slower a sanitizer build runs, for the tests that bound
 * elapsed time.  ThreadSanitizer slows plinth 5-15x (and serialises much of
 * libssh2's crypto): a time bound that checks speed is scaled by
 * TEST_SLOWDOWN; one that checks concurrency (N jobs of 1 s in less than
 * N s) keeps its meaning with its own TSan bound. */
#ifndef PLINTH_TEST_SAN_H
#define PLINTH_TEST_SAN_H

#if defined(__SANITIZE_THREAD__)
#define TEST_SLOWDOWN 10
#define TEST_UNDER_TSAN 1
#else
#define TEST_SLOWDOWN 1
#define TEST_UNDER_TSAN 0
#endif

#endif
