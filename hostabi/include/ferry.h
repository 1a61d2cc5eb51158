/*
 * ferry.h: the guest side of ferry's host ABI, version 1, for C and any
 * language that can call C. The contract is hostabi/ABI.md.
 *
 * Memory: the guest owns all of its memory. The host writes into guest
 * memory only inside ferry_invocation_read, into the buffer the guest
 * passes, and reads it only inside ferry_response_write and
 * ferry_error_write; it keeps no pointer after a call returns. So a guest
 * may free or reuse any buffer as soon as the call that used it returns,
 * and needs no allocator export.
 *
 * A reactor guest (built with -mexec-model=reactor) exports:
 *   int32_t ferry_abi_version(void);          return FERRY_ABI_VERSION
 *   int32_t ferry_invoke(int32_t record_len); 0: serve again, 1: discard me
 */
#ifndef FERRY_H
#define FERRY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FERRY_ABI_VERSION 1

#define FERRY_IMPORT(name) __attribute__((import_module("ferry"), import_name(name)))
#define FERRY_EXPORT(name) __attribute__((export_name(name)))

/* Copies the invocation record into buf; returns its length, or -1 if
 * buf_len is too small or no invocation is in progress. */
FERRY_IMPORT("invocation_read") int32_t ferry_invocation_read(void *buf, int32_t buf_len);
/* Reports success with the response payload; -1 if over 6,291,556 bytes. */
FERRY_IMPORT("response_write") int32_t ferry_response_write(const void *buf, int32_t len);
/* Reports failure with an error document:
 * {"errorMessage":"…","errorType":"…","stackTrace":[…]} */
FERRY_IMPORT("error_write") int32_t ferry_error_write(const void *buf, int32_t len);

/* Outbound HTTP (ABI.md, "Outbound HTTP"): optional imports; a guest that
 * declares none of them loads on any version-1 host. Heads are encoded as
 * ABI.md says. Negative results: -1 failed (ferry_http_error says why, e.g.
 * the origin is not in allowedOutboundHosts), -2 the deadline passed. */
FERRY_IMPORT("http_request") int32_t ferry_http_request(const void *head, int32_t head_len);
FERRY_IMPORT("http_body_write") int32_t ferry_http_body_write(int32_t handle, const void *buf, int32_t len);
/* Ends the request body, waits for the response head; returns the status. */
FERRY_IMPORT("http_send") int32_t ferry_http_send(int32_t handle);
/* which: 0 the response head, 1 the trailers (after the body's end).
 * Returns the encoded length; copies only if it fits in buf_len. */
FERRY_IMPORT("http_header_read") int32_t ferry_http_header_read(int32_t handle, int32_t which, void *buf, int32_t buf_len);
/* Returns the bytes read into buf, 0 at the end of the body. */
FERRY_IMPORT("http_body_read") int32_t ferry_http_body_read(int32_t handle, void *buf, int32_t buf_len);
FERRY_IMPORT("http_close") int32_t ferry_http_close(int32_t handle);
/* The last failure's message; returns its length, copies only if it fits. */
FERRY_IMPORT("http_error") int32_t ferry_http_error(void *buf, int32_t buf_len);

/* A view of bytes inside the record buffer; not NUL-terminated. */
typedef struct {
    const char *data;
    uint32_t len;
} ferry_bytes;

/* The decoded invocation record. Views alias the record buffer. */
typedef struct {
    int64_t deadline_ms; /* Unix epoch milliseconds */
    ferry_bytes request_id;
    ferry_bytes invoked_function_arn;
    ferry_bytes trace_id;
    ferry_bytes client_context;   /* JSON, empty when absent */
    ferry_bytes cognito_identity; /* JSON, empty when absent */
    ferry_bytes payload;          /* the event */
    ferry_bytes tenant_id;        /* optional trailing field; empty when absent */
} ferry_invocation;

static inline uint32_t ferry__u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Decodes a record of len bytes into inv. Returns 0, or -1 if truncated. */
static inline int ferry_decode(const void *record, size_t len, ferry_invocation *inv) {
    const unsigned char *p = (const unsigned char *)record, *end = p + len;
    ferry_bytes *fields[7] = {&inv->request_id, &inv->invoked_function_arn, &inv->trace_id,
                              &inv->client_context, &inv->cognito_identity, &inv->payload,
                              &inv->tenant_id};
    if (len < 8) return -1;
    inv->deadline_ms = (int64_t)((uint64_t)ferry__u32(p) | (uint64_t)ferry__u32(p + 4) << 32);
    p += 8;
    inv->tenant_id.data = 0;
    inv->tenant_id.len = 0;
    for (int i = 0; i < 7; i++) {
        uint32_t n;
        if (i >= 6 && p == end) break; /* fields after the payload are optional */
        if ((size_t)(end - p) < 4) return -1;
        n = ferry__u32(p);
        p += 4;
        if ((size_t)(end - p) < n) return -1;
        fields[i]->data = (const char *)p;
        fields[i]->len = n;
        p += n;
    }
    return 0;
}

#endif
