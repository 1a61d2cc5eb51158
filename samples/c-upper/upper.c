/* c-upper: a plain WASI command, with no ferry SDK at all (ferry's command
 * mode): the event on stdin, the response on stdout, logs on stderr, the
 * request id in FERRY_REQUEST_ID. It upper-cases the event's "text". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    static char in[1 << 20];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = 0;
    if (n == 0) {
        fputs("upper: empty event\n", stderr);
        return 3;
    }
    fprintf(stderr, "upper: %zu bytes\n", n);
    /* Finds "text" : "…" (no escapes, which this sample does not need). */
    const char *text = "", *end = "";
    char *key = strstr(in, "\"text\"");
    if (key != NULL) {
        char *q = strchr(key + 6, '"');
        if (q != NULL && (end = strchr(q + 1, '"')) != NULL) text = q + 1;
        else end = text;
    }
    printf("{\"upper\":\"");
    for (const char *p = text; p < end; p++) putchar(toupper((unsigned char)*p));
    const char *id = getenv("FERRY_REQUEST_ID");
    printf("\",\"requestId\":\"%s\"}", id ? id : "");
    return 0;
}
