/* src/export/pb.h — a minimal protocol-buffers writer: enough of the wire
 * format (varints, 32-bit floats, length-delimited fields) for ONNX's
 * ModelProto. Messages nest by writing the inner one into its own buffer
 * and appending it as a length-delimited field. Internal. */
#ifndef ENEVO_EXPORT_PB_H
#define ENEVO_EXPORT_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ENEVO_PB_VARINT = 0, ENEVO_PB_I64 = 1, ENEVO_PB_LEN = 2, ENEVO_PB_I32 = 5 };

/* A growable byte buffer. A failed allocation sets oom and makes every later
 * write a no-op, so a writer checks once, at the end. */
struct enevo_pb {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

void enevo__pb_free(struct enevo_pb *b);
void enevo__pb_raw(struct enevo_pb *b, const void *data, size_t n);
void enevo__pb_varint(struct enevo_pb *b, uint64_t v);
void enevo__pb_tag(struct enevo_pb *b, int field, int wire);
/* int32/int64/enum/bool fields (two's complement, as protobuf encodes them). */
void enevo__pb_int(struct enevo_pb *b, int field, int64_t v);
void enevo__pb_float(struct enevo_pb *b, int field, float v);
void enevo__pb_bytes(struct enevo_pb *b, int field, const void *data, size_t n);
void enevo__pb_str(struct enevo_pb *b, int field, const char *s);
/* Append `sub` as a length-delimited field, then free sub. */
void enevo__pb_msg(struct enevo_pb *b, int field, struct enevo_pb *sub);
/* Little-endian IEEE floats, whatever the host's byte order (raw_data). */
void enevo__pb_floats_le(struct enevo_pb *b, int field, const float *v, size_t n);

#endif
