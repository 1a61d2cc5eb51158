/* c-echo: a ferry reactor in C. It answers with its event unchanged, or
 * fails with an EchoError when the event contains "fail":true. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry.h"

FERRY_EXPORT("ferry_abi_version") int32_t ferry_abi_version(void) { return FERRY_ABI_VERSION; }

static int contains(ferry_bytes b, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b.len; i++)
        if (memcmp(b.data + i, needle, n) == 0) return 1;
    return 0;
}

FERRY_EXPORT("ferry_invoke") int32_t ferry_invoke(int32_t record_len) {
    ferry_invocation inv;
    char *record = malloc(record_len);
    if (record == NULL || ferry_invocation_read(record, record_len) != record_len ||
        ferry_decode(record, record_len, &inv) != 0) {
        static const char err[] = "{\"errorMessage\":\"cannot read the invocation\",\"errorType\":\"EchoError\"}";
        ferry_error_write(err, sizeof err - 1);
        free(record);
        return 1;
    }
    fprintf(stderr, "echo: %u bytes, request %.*s\n", inv.payload.len, (int)inv.request_id.len, inv.request_id.data);
    if (contains(inv.payload, "\"fail\":true")) {
        static const char err[] = "{\"errorMessage\":\"echo asked to fail\",\"errorType\":\"EchoError\"}";
        ferry_error_write(err, sizeof err - 1);
    } else {
        ferry_response_write(inv.payload.data, inv.payload.len);
    }
    free(record);
    return 0;
}
