/* fuzz-proto.c: libFuzzer target for the agent frame decoder: the bytes a
 * hostile guest sends. Decodes as a stream of frames, as the host does. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        while (size >= PROTO_HDR_SIZE) {
                struct proto_hdr h;
                struct proto_msg m;
                if (proto_hdr_decode(data, &h) < 0 || size - PROTO_HDR_SIZE < h.len)
                        return 0;
                if (proto_payload_decode(&h, data + PROTO_HDR_SIZE, &m) == 0) {
                        uint8_t out[PROTO_HDR_SIZE + 4096];
                        struct proto_msg again;
                        long n = proto_encode(&m, out, sizeof(out));
                        /* What decodes must re-encode and decode to the same message. */
                        if (n < 0 || proto_decode(out, (size_t)n, &again) != 0 ||
                            again.type != m.type || again.id != m.id)
                                __builtin_trap();
                }
                data += PROTO_HDR_SIZE + h.len;
                size -= PROTO_HDR_SIZE + h.len;
        }
        return 0;
}
