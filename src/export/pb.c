/* The protocol-buffers wire format, written by hand: ONNX needs only
 * varints, fixed32 floats and length-delimited fields (docs/FORMATS.md says
 * why this is not protobuf-c). */
#include "export/pb.h"

#include <stdlib.h>
#include <string.h>

void enevo__pb_free(struct enevo_pb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static bool reserve(struct enevo_pb *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->n + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void enevo__pb_raw(struct enevo_pb *b, const void *data, size_t n)
{
    if (n && reserve(b, n)) {
        memcpy(b->p + b->n, data, n);
        b->n += n;
    }
}

void enevo__pb_varint(struct enevo_pb *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    enevo__pb_raw(b, t, n);
}

void enevo__pb_tag(struct enevo_pb *b, int field, int wire)
{
    enevo__pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void enevo__pb_int(struct enevo_pb *b, int field, int64_t v)
{
    enevo__pb_tag(b, field, ENEVO_PB_VARINT);
    enevo__pb_varint(b, (uint64_t)v); /* negative: 10 bytes, as protobuf does */
}

static void put_le32(uint8_t *d, uint32_t u)
{
    d[0] = (uint8_t)u;
    d[1] = (uint8_t)(u >> 8);
    d[2] = (uint8_t)(u >> 16);
    d[3] = (uint8_t)(u >> 24);
}

void enevo__pb_float(struct enevo_pb *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t d[4];
    put_le32(d, u);
    enevo__pb_tag(b, field, ENEVO_PB_I32);
    enevo__pb_raw(b, d, 4);
}

void enevo__pb_bytes(struct enevo_pb *b, int field, const void *data, size_t n)
{
    enevo__pb_tag(b, field, ENEVO_PB_LEN);
    enevo__pb_varint(b, n);
    enevo__pb_raw(b, data, n);
}

void enevo__pb_str(struct enevo_pb *b, int field, const char *s)
{
    enevo__pb_bytes(b, field, s, strlen(s));
}

void enevo__pb_msg(struct enevo_pb *b, int field, struct enevo_pb *sub)
{
    if (sub->oom)
        b->oom = true;
    enevo__pb_bytes(b, field, sub->p, sub->n);
    enevo__pb_free(sub);
}

void enevo__pb_floats_le(struct enevo_pb *b, int field, const float *v, size_t n)
{
    enevo__pb_tag(b, field, ENEVO_PB_LEN);
    enevo__pb_varint(b, 4 * (uint64_t)n);
    if (!reserve(b, 4 * n))
        return;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_le32(b->p + b->n + 4 * i, u);
    }
    b->n += 4 * n;
}
