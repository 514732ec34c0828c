#ifndef CZOOGEMM_H
#define CZOOGEMM_H
/* Single-precision GEMM with an AVX-512 register-blocked micro-kernel.

   C[m x n] = A[m x k] . B[k x n] (+ C when accumulate), row-major, on the
   calling thread only (callers split work across their own threads).
   A and B are packed per call into thread-local panels (A: 12 rows per
   panel, B: 32 columns, 256 deep), and a 12 x 32 tile of 24 zmm accumulators
   is updated with broadcast FMAs. On this machine's convolution shapes it
   runs 1.3-2x faster than single-threaded OpenBLAS.

   Only call czoo_sgemm when czoo_sgemm_available() returns 1: that checks
   the CPU (AVX-512F, at run time: the package builds for baseline x86-64)
   and honours ZOO_KERNELS=portable, which makes callers use BLAS instead. */
#include <stddef.h>

int czoo_sgemm_available(void);
/* Tests: 1 forces the portable path (as ZOO_KERNELS=portable), 0 restores detection. */
void czoo_sgemm_force_portable(int on);
/* Returns 0, or -1 when the CPU lacks AVX-512F or memory for the panels is short
   (then nothing was written and the caller must use its portable path). */
int czoo_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate);

/* Weights packed once (at model load) into the kernel's panels: floats needed,
   the packing itself, and the product for output rows [row_begin, row_end)
   (row_begin a multiple of 12, the panel height), C pointing at row 0.
   czoo_sgemm_packed returns -1 (nothing written) when the CPU lacks AVX-512F. */
size_t czoo_sgemm_packed_floats(int m, int k);
void czoo_sgemm_pack(int m, int k, const float *a, int lda, float *out);
int czoo_sgemm_packed(int m, int n, int k, const float *packed, int row_begin, int row_end, const float *b, int ldb, float *c, int ldc);
#endif
