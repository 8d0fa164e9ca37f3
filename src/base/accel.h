/* accel.h: the accelerator words shared by the config, the host probes
 * and the domain: what a run asks for, and what it gets. */
#pragma once

#include <string.h>

enum mlvm_accel { MLVM_ACCEL_TCG, MLVM_ACCEL_KVM };

/* accel: in mlvm.yaml, --accel, $MLVM_ACCEL. auto uses KVM only where it
 * is known to boot a guest; kvm never falls back; tcg never tries KVM. */
enum mlvm_accel_request { MLVM_ACCEL_AUTO, MLVM_ACCEL_ASK_KVM, MLVM_ACCEL_ASK_TCG };

static inline int mlvm_accel_request_parse(const char *s, enum mlvm_accel_request *ret)
{
        if (!strcmp(s, "auto"))
                *ret = MLVM_ACCEL_AUTO;
        else if (!strcmp(s, "kvm"))
                *ret = MLVM_ACCEL_ASK_KVM;
        else if (!strcmp(s, "tcg"))
                *ret = MLVM_ACCEL_ASK_TCG;
        else
                return -1;
        return 0;
}

static inline const char *mlvm_accel_request_to_string(enum mlvm_accel_request r)
{
        return r == MLVM_ACCEL_ASK_KVM ? "kvm" : r == MLVM_ACCEL_ASK_TCG ? "tcg" : "auto";
}
