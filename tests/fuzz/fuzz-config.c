/* fuzz-config.c: libFuzzer target for the mlvm.yaml loader (untrusted input). */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };

        if (mlvm_config_parse("fuzz.yaml", "/nonexistent", (const char *)data, size, &c, &e) == 0) {
                json_object *j = mlvm_config_to_json(c);
                (void)json_object_to_json_string(j);
                json_object_put(j);
                mlvm_config_free(c);
        }
        return 0;
}
