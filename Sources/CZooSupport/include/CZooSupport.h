#ifndef CZOOSUPPORT_H
#define CZOOSUPPORT_H
/* Small OS helpers Swift cannot call directly (variadic C functions), and
   kernels that need per-CPU instruction selection (CZooKernels.h). */

/* Ask the kernel to SIGKILL this process when its parent dies, so a worker
   never outlives a killed `zoo` (and never holds a registry lock). Returns 0
   on success; -1 where unsupported. Also returns -1 if the parent is already gone. */
int czoo_die_with_parent(void);

/* 1 when this code was built with AddressSanitizer, ThreadSanitizer or
   MemorySanitizer: their shadow memory needs terabytes of address space, so
   an address-space limit must not be set. */
int czoo_sanitized(void);

/* 1 when built with ThreadSanitizer (a test skips what its runtime cannot run under). */
int czoo_thread_sanitized(void);

/* Start writeback of [offset, offset + length) of fd without waiting and
   without dropping the pages from the cache (sync_file_range with
   SYNC_FILE_RANGE_WRITE), so the final fsync has little left to do and a
   model read right after conversion is still cached. Returns 0 or -1. */
int czoo_start_writeback(int fd, long long offset, long long length);
/* Hint that *p will be read soon (a hash-table slot far out of cache). */
static inline void czoo_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#include "CZooKernels.h"
#include "CZooGemm.h"
#endif
