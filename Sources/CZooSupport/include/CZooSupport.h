#ifndef CZOOSUPPORT_H
#define CZOOSUPPORT_H
/* Small OS helpers Swift cannot call directly (variadic C functions), and
   kernels that need per-CPU instruction selection (CZooKernels.h). */

/* Ask the kernel to SIGKILL this process when its parent dies, so a worker
   never outlives a killed `zoo` (and never holds a registry lock). Returns 0
   on success; -1 where unsupported. Also returns -1 if the parent is already gone. */
int czoo_die_with_parent(void);
#include "CZooKernels.h"
#endif
