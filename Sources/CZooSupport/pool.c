#include "CZooKernels.h"
#include "CZooGemm.h"

#include <math.h>

/* 2-D max and average pooling over whole planes. Each output row starts at
   -inf (or 0) and takes one kernel tap at a time over the output columns whose
   input column lies inside the row, so the inner loops have no bounds checks
   and are plain unit-stride (or stride-2) loops that the compiler vectorises.
   The portable body is plain C for baseline x86-64; behind run-time dispatch,
   AVX-512F does 16 outputs per step with masked tails. */

/* Output columns [lo, hi) whose input column o*sw + shift lies in [0, w). */
static inline void valid_columns(int shift, int sw, int ow, int w, int *lo, int *hi) {
    int l = shift >= 0 ? 0 : (-shift + sw - 1) / sw;
    if (l > ow) l = ow;
    int h = (w - 1 - shift) >= 0 ? (w - 1 - shift) / sw + 1 : 0;
    if (h > ow) h = ow;
    if (h < l) h = l;
    *lo = l; *hi = h;
}

#define POOL_BODY(IS_MAX)                                                                          \
    const int ow = p->ow, w = p->w, sw = p->sw;                                                     \
    for (size_t plane = 0; plane < planes; plane++) {                                              \
        const float *src = x + plane * (size_t)p->h * (size_t)w;                                    \
        for (int oh = 0; oh < p->oh; oh++) {                                                        \
            float *restrict row = y + plane * (size_t)p->oh * (size_t)ow + (size_t)oh * (size_t)ow;  \
            for (int o = 0; o < ow; o++) row[o] = (IS_MAX) ? -INFINITY : 0.0f;                      \
            for (int i = 0; i < p->kh; i++) {                                                       \
                int ih = oh * p->sh - p->pt + i * p->dh;                                            \
                if (ih < 0 || ih >= p->h) continue;                                                 \
                const float *restrict s = src + (size_t)ih * (size_t)w;                             \
                for (int j = 0; j < p->kw; j++) {                                                   \
                    int shift = j * p->dw - p->pl, lo, hi;                                          \
                    valid_columns(shift, sw, ow, w, &lo, &hi);                                      \
                    const float *restrict t = s + shift;                                            \
                    if (sw == 1) {                                                                  \
                        for (int o = lo; o < hi; o++) TAP(IS_MAX, row[o], t[o]);                    \
                    } else if (sw == 2) {                                                           \
                        for (int o = lo; o < hi; o++) TAP(IS_MAX, row[o], t[2 * o]);                \
                    } else {                                                                        \
                        for (int o = lo; o < hi; o++) TAP(IS_MAX, row[o], t[(size_t)o * sw]);       \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
            if (!(IS_MAX)) {                                                                        \
                float rc = (float)rows[oh];                                                         \
                for (int o = 0; o < ow; o++) {                                                      \
                    float d = rc * (float)cols[o];                                                  \
                    row[o] = d > 0 ? row[o] / d : 0.0f;                                             \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

/* max keeps the current value unless the tap is greater (NaN taps are skipped, as before). */
#define TAP(IS_MAX, acc, v) do { float v_ = (v); if (IS_MAX) { acc = v_ > acc ? v_ : acc; } else { acc += v_; } } while (0)

static void maxpool_portable(const czoo_pool2d *p, const float *x, float *y, size_t planes) {
    const int *rows = 0, *cols = 0; (void)rows; (void)cols;
    POOL_BODY(1)
}

static void avgpool_portable(const czoo_pool2d *p, const float *x, float *y, size_t planes, const int *rows, const int *cols) {
    POOL_BODY(0)
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Lanes [0, n) of 16 (n may exceed 16). */
__attribute__((target("avx512f")))
static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

/* The tap values t[(o+l)*sw] for lanes l in m = lanes(n). Masked loads touch
   only inputs inside the row (for stride 2, the span from the first to the
   last needed input, all of it inside the row). */
__attribute__((target("avx512f"), always_inline))
static inline __m512 tap_values(const float *t, int o, int n, __mmask16 m, int sw) {
    if (sw == 1) return _mm512_maskz_loadu_ps(m, t + o);
    if (sw == 2) {
        const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        int span = 2 * n - 1;
        __m512 lo = _mm512_maskz_loadu_ps(lanes(span), t + 2 * o);
        __m512 hi = _mm512_maskz_loadu_ps(lanes(span > 16 ? span - 16 : 0), t + 2 * o + 16);
        return _mm512_permutex2var_ps(lo, evens, hi);
    }
    __m512i idx = _mm512_mullo_epi32(_mm512_add_epi32(_mm512_set1_epi32(o), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)), _mm512_set1_epi32(sw));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, t, 4);
}

/* Columns whose window lies wholly inside the row (the interior, [L, H)) run
   16 at a time with every tap accumulated in a register and no per-tap
   bounds; the few border columns run one by one with bounds checks. Taps are
   taken in the window's order (row by row) in both. */
__attribute__((target("avx512f"), always_inline))
static inline void pool_avx512_body(int is_max, int sw, const czoo_pool2d *p, const float *x, float *y, size_t planes, const int *rows, const int *cols) {
    const int ow = p->ow, w = p->w, kw = p->kw;
    int L = 0, H = ow;
    for (int j = 0; j < kw; j++) {
        int lo, hi;
        valid_columns(j * p->dw - p->pl, sw, ow, w, &lo, &hi);
        if (lo > L) L = lo;
        if (hi < H) H = hi;
    }
    if (H < L) H = L;
    const float init = is_max ? -INFINITY : 0.0f;
    for (size_t plane = 0; plane < planes; plane++) {
        const float *src = x + plane * (size_t)p->h * (size_t)w;
        for (int oh = 0; oh < p->oh; oh++) {
            float *row = y + plane * (size_t)p->oh * (size_t)ow + (size_t)oh * (size_t)ow;
            int i0 = 0, i1 = p->kh;   /* the window rows inside the input */
            while (i0 < i1 && oh * p->sh - p->pt + i0 * p->dh < 0) i0++;
            while (i1 > i0 && oh * p->sh - p->pt + (i1 - 1) * p->dh >= p->h) i1--;
            for (int o = L; o < H; o += 16) {
                int n = H - o < 16 ? H - o : 16;
                __mmask16 m = lanes(n);
                __m512 acc = _mm512_set1_ps(init);
                for (int i = i0; i < i1; i++) {
                    const float *s = src + (size_t)(oh * p->sh - p->pt + i * p->dh) * (size_t)w - p->pl;
                    for (int j = 0; j < kw; j++) {
                        __m512 v = tap_values(s + j * p->dw, o, n, m, sw);
                        acc = is_max ? _mm512_max_ps(v, acc) : _mm512_add_ps(acc, v);
                    }
                }
                if (!is_max) {
                    __m512 d = _mm512_mul_ps(_mm512_set1_ps((float)rows[oh]), _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, cols + o)));
                    acc = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_GT_OQ), acc, d);
                }
                _mm512_mask_storeu_ps(row + o, m, acc);
            }
            for (int o = 0; o < ow; o++) {
                if (o == L && H > L) { o = H - 1; continue; }
                float acc = init;
                for (int i = i0; i < i1; i++) {
                    const float *s = src + (size_t)(oh * p->sh - p->pt + i * p->dh) * (size_t)w;
                    for (int j = 0; j < kw; j++) {
                        int ic = o * sw + j * p->dw - p->pl;
                        if (ic >= 0 && ic < w) TAP(is_max, acc, s[ic]);
                    }
                }
                if (!is_max) {
                    float d = (float)rows[oh] * (float)cols[o];
                    acc = d > 0 ? acc / d : 0.0f;
                }
                row[o] = acc;
            }
        }
    }
}

/* Specialised copies for max/average and stride 1, 2 or other, so the tap loop has no branches. */
__attribute__((target("avx512f")))
static void maxpool_avx512(const czoo_pool2d *p, const float *x, float *y, size_t planes) {
    if (p->sw == 1) pool_avx512_body(1, 1, p, x, y, planes, 0, 0);
    else if (p->sw == 2) pool_avx512_body(1, 2, p, x, y, planes, 0, 0);
    else pool_avx512_body(1, p->sw, p, x, y, planes, 0, 0);
}
__attribute__((target("avx512f")))
static void avgpool_avx512(const czoo_pool2d *p, const float *x, float *y, size_t planes, const int *rows, const int *cols) {
    if (p->sw == 1) pool_avx512_body(0, 1, p, x, y, planes, rows, cols);
    else if (p->sw == 2) pool_avx512_body(0, 2, p, x, y, planes, rows, cols);
    else pool_avx512_body(0, p->sw, p, x, y, planes, rows, cols);
}
#define CZOO_POOL_AVX512 1
#endif

void czoo_maxpool2d(const czoo_pool2d *p, const float *x, float *y, size_t planes) {
#ifdef CZOO_POOL_AVX512
    if (czoo_sgemm_available()) { maxpool_avx512(p, x, y, planes); return; }
#endif
    maxpool_portable(p, x, y, planes);
}

void czoo_avgpool2d(const czoo_pool2d *p, const float *x, float *y, size_t planes, const int *rows, const int *cols) {
#ifdef CZOO_POOL_AVX512
    if (czoo_sgemm_available()) { avgpool_avx512(p, x, y, planes, rows, cols); return; }
#endif
    avgpool_portable(p, x, y, planes, rows, cols);
}

/* Depthwise 2-D convolution (one filter per channel) over `planes`
   consecutive planes whose channels run from `first` (mod `channels`):
   y = clamp(bias[c] + sum of w[c][i][j] * x[...], lo, hi). Taps are taken in
   the filter's row-major order; window positions outside the input count as 0. */
static void depthwise_portable(const czoo_pool2d *p, const float *x, const float *w, const float *bias, float *y,
                               size_t planes, size_t channels, size_t first, float lo, float hi) {
    const int ow = p->ow, iw = p->w;
    for (size_t plane = 0; plane < planes; plane++) {
        size_t c = (first + plane) % channels;
        const float *src = x + plane * (size_t)p->h * (size_t)iw;
        const float *k = w + c * (size_t)p->kh * (size_t)p->kw;
        float b = bias ? bias[c] : 0.0f;
        for (int oh = 0; oh < p->oh; oh++) {
            float *row = y + plane * (size_t)p->oh * (size_t)ow + (size_t)oh * (size_t)ow;
            for (int o = 0; o < ow; o++) row[o] = b;
            for (int i = 0; i < p->kh; i++) {
                int ih = oh * p->sh - p->pt + i * p->dh;
                if (ih < 0 || ih >= p->h) continue;
                const float *s = src + (size_t)ih * (size_t)iw;
                for (int j = 0; j < p->kw; j++) {
                    int l, h;
                    valid_columns(j * p->dw - p->pl, p->sw, ow, iw, &l, &h);
                    const float *t = s + (j * p->dw - p->pl);
                    float kv = k[i * p->kw + j];
                    for (int o = l; o < h; o++) row[o] += kv * t[(size_t)o * p->sw];
                }
            }
            for (int o = 0; o < ow; o++) { float v = row[o]; row[o] = v < lo ? lo : (v > hi ? hi : v); }
        }
    }
}

#ifdef CZOO_POOL_AVX512
__attribute__((target("avx512f"), always_inline))
static inline void depthwise_avx512_body(int sw, const czoo_pool2d *p, const float *x, const float *w, const float *bias, float *y,
                                         size_t planes, size_t channels, size_t first, float lo, float hi) {
    const int ow = p->ow, iw = p->w, kw = p->kw;
    int L = 0, H = ow;
    for (int j = 0; j < kw; j++) {
        int l, h;
        valid_columns(j * p->dw - p->pl, sw, ow, iw, &l, &h);
        if (l > L) L = l;
        if (h < H) H = h;
    }
    if (H < L) H = L;
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (size_t plane = 0; plane < planes; plane++) {
        size_t c = (first + plane) % channels;
        const float *src = x + plane * (size_t)p->h * (size_t)iw;
        const float *k = w + c * (size_t)p->kh * (size_t)kw;
        float b = bias ? bias[c] : 0.0f;
        for (int oh = 0; oh < p->oh; oh++) {
            float *row = y + plane * (size_t)p->oh * (size_t)ow + (size_t)oh * (size_t)ow;
            int i0 = 0, i1 = p->kh;
            while (i0 < i1 && oh * p->sh - p->pt + i0 * p->dh < 0) i0++;
            while (i1 > i0 && oh * p->sh - p->pt + (i1 - 1) * p->dh >= p->h) i1--;
            /* Two blocks of 16 at a time: independent accumulator chains. */
            int o = L;
            for (; o + 16 < H; o += 32) {
                int n1 = H - o - 16 < 16 ? H - o - 16 : 16;
                __mmask16 m1 = lanes(n1);
                __m512 a0 = _mm512_set1_ps(b), a1 = a0;
                for (int i = i0; i < i1; i++) {
                    const float *s = src + (size_t)(oh * p->sh - p->pt + i * p->dh) * (size_t)iw - p->pl;
                    for (int j = 0; j < kw; j++) {
                        __m512 kv = _mm512_set1_ps(k[i * kw + j]);
                        a0 = _mm512_fmadd_ps(kv, tap_values(s + j * p->dw, o, 16, (__mmask16)0xFFFF, sw), a0);
                        a1 = _mm512_fmadd_ps(kv, tap_values(s + j * p->dw, o + 16, n1, m1, sw), a1);
                    }
                }
                _mm512_storeu_ps(row + o, _mm512_min_ps(_mm512_max_ps(a0, vlo), vhi));
                _mm512_mask_storeu_ps(row + o + 16, m1, _mm512_min_ps(_mm512_max_ps(a1, vlo), vhi));
            }
            for (; o < H; o += 16) {
                int n = H - o < 16 ? H - o : 16;
                __mmask16 m = lanes(n);
                __m512 a = _mm512_set1_ps(b);
                for (int i = i0; i < i1; i++) {
                    const float *s = src + (size_t)(oh * p->sh - p->pt + i * p->dh) * (size_t)iw - p->pl;
                    for (int j = 0; j < kw; j++)
                        a = _mm512_fmadd_ps(_mm512_set1_ps(k[i * kw + j]), tap_values(s + j * p->dw, o, n, m, sw), a);
                }
                _mm512_mask_storeu_ps(row + o, m, _mm512_min_ps(_mm512_max_ps(a, vlo), vhi));
            }
            for (int q = 0; q < ow; q++) {
                if (q == L && H > L) { q = H - 1; continue; }
                float acc = b;
                for (int i = i0; i < i1; i++) {
                    const float *s = src + (size_t)(oh * p->sh - p->pt + i * p->dh) * (size_t)iw;
                    for (int j = 0; j < kw; j++) {
                        int ic = q * sw + j * p->dw - p->pl;
                        if (ic >= 0 && ic < iw) acc += k[i * kw + j] * s[ic];
                    }
                }
                row[q] = acc < lo ? lo : (acc > hi ? hi : acc);
            }
        }
    }
}

__attribute__((target("avx512f")))
static void depthwise_avx512(const czoo_pool2d *p, const float *x, const float *w, const float *bias, float *y,
                             size_t planes, size_t channels, size_t first, float lo, float hi) {
    if (p->sw == 1) depthwise_avx512_body(1, p, x, w, bias, y, planes, channels, first, lo, hi);
    else if (p->sw == 2) depthwise_avx512_body(2, p, x, w, bias, y, planes, channels, first, lo, hi);
    else depthwise_avx512_body(p->sw, p, x, w, bias, y, planes, channels, first, lo, hi);
}
#endif

void czoo_depthwise2d(const czoo_pool2d *p, const float *x, const float *w, const float *bias, float *y,
                      size_t planes, size_t channels, size_t first, float lo, float hi) {
#ifdef CZOO_POOL_AVX512
    if (czoo_sgemm_available()) { depthwise_avx512(p, x, w, bias, y, planes, channels, first, lo, hi); return; }
#endif
    depthwise_portable(p, x, w, bias, y, planes, channels, first, lo, hi);
}
