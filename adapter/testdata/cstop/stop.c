/* cstop: a C guest that runs until something stops it, for the timeout
 * tests. Its event names what it does: "spin" (an endless loop), "fib"
 * (fib(90): an exponential call tree without a loop), "sleep" (a WASI
 * sleep of 15 minutes); anything else is echoed. Built as a ferry reactor
 * with -DREACTOR -mexec-model=reactor, else as a plain WASI command (the
 * event on stdin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef REACTOR
#include "ferry.h"
#endif

/* optnone: clang must not turn the recursion into a loop. */
__attribute__((optnone)) static unsigned long long fib(unsigned long long n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static volatile unsigned long long sink;

static void run(const char *event, size_t len) {
    if (len >= 6 && memcmp(event, "\"spin\"", 6) == 0)
        for (;;) sink++;
    if (len >= 5 && memcmp(event, "\"fib\"", 5) == 0) sink = fib(90);
    if (len >= 7 && memcmp(event, "\"sleep\"", 7) == 0) sleep(15 * 60);
}

#ifdef REACTOR
FERRY_EXPORT("ferry_abi_version") int32_t ferry_abi_version(void) { return FERRY_ABI_VERSION; }

FERRY_EXPORT("ferry_invoke") int32_t ferry_invoke(int32_t record_len) {
    ferry_invocation inv;
    char *record = malloc(record_len);
    if (record == NULL || ferry_invocation_read(record, record_len) != record_len ||
        ferry_decode(record, record_len, &inv) != 0)
        return 1;
    run(inv.payload.data, inv.payload.len);
    ferry_response_write(inv.payload.data, inv.payload.len);
    free(record);
    return 0;
}
#else
int main(void) {
    static char in[1 << 16];
    size_t n = fread(in, 1, sizeof in, stdin);
    run(in, n);
    fwrite(in, 1, n, stdout);
    return 0;
}
#endif
