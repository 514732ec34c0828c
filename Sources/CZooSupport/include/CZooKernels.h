#ifndef CZOOKERNELS_H
#define CZOOKERNELS_H
#include <stddef.h>

/* y[i] = dot(m[i*d .. i*d+d), x) for i in [0, rows).
   Scoring every row of an embedding matrix against one query is a matrix-
   vector product with short rows (d ~ 300); generic BLAS spends more time on
   per-row overhead than on memory there. This kernel keeps one stream per row
   and uses AVX2+FMA when the CPU has them (checked once at run time), so the
   pass runs at memory bandwidth; otherwise a portable loop. */
void czoo_score_rows(const float *m, size_t rows, size_t d, const float *x, float *y);

/* The portable loop alone (what czoo_score_rows falls back to). */
void czoo_score_rows_portable(const float *m, size_t rows, size_t d, const float *x, float *y);

/* 1 if the AVX2+FMA path is in use (for diagnostics and tests). */
int czoo_score_rows_vectorised(void);

/* y[i] = y[i] * sigmoid(y[i]) (SiLU) in place, and y[i] = sigmoid(x[i]).
   exp is Cephes' single-precision polynomial (within 2 ulp of expf over the
   clamped range ±88.38) on 16 lanes with AVX-512F when the CPU has it (and
   ZOO_KERNELS is not "portable"), else the C library's expf. */
void czoo_silu_inplace(float *y, size_t n);
void czoo_sigmoid(const float *x, float *y, size_t n);

/* One 2-D pooling geometry: input h x w, window kh x kw, output oh x ow,
   strides, dilations, and the top/left padding. */
typedef struct { int h, w, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl; } czoo_pool2d;

/* Max pooling of `planes` consecutive planes (x: planes*h*w, y: planes*oh*ow).
   A window with no input position gives -inf. */
void czoo_maxpool2d(const czoo_pool2d *p, const float *x, float *y, size_t planes);

/* Average pooling: each output is the window's sum over input positions
   divided by rows[oh] * cols[ow] (the divisor counts, which decide whether
   padding counts); a zero divisor gives 0. */
void czoo_avgpool2d(const czoo_pool2d *p, const float *x, float *y, size_t planes, const int *rows, const int *cols);

/* Depthwise convolution (one kh x kw filter per channel, the same geometry):
   `planes` consecutive planes whose channels are (first + k) mod `channels`;
   y = min(max(bias[c] + the window's weighted sum, lo), hi) (lo = -inf and
   hi = +inf for no activation; bias may be NULL). */
void czoo_depthwise2d(const czoo_pool2d *p, const float *x, const float *w, const float *bias, float *y,
                      size_t planes, size_t channels, size_t first, float lo, float hi);
#endif
