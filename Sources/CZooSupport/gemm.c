#include "CZooGemm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MR 12
#define NR 32
#define KC 256
#define NC 512

static int forced_portable = 0;
static int detected = -1;

static int detect(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const char *env = getenv("ZOO_KERNELS");
    if (env && strcmp(env, "portable") == 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

int czoo_sgemm_available(void) {
    if (__atomic_load_n(&forced_portable, __ATOMIC_RELAXED)) return 0;
    int d = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (d < 0) {
        d = detect();
        __atomic_store_n(&detected, d, __ATOMIC_RELAXED);
    }
    return d;
}

void czoo_sgemm_force_portable(int on) { __atomic_store_n(&forced_portable, on ? 1 : 0, __ATOMIC_RELAXED); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Rows [m0, m0 + mr) of A for k in [k0, k0 + kc): out[k * MR + r], zero rows past mr. */
static void pack_a(const float *a, int lda, int m0, int mr, int k0, int kc, float *out) {
    for (int r = 0; r < MR; r++) {
        if (r < mr) {
            const float *src = a + (size_t)(m0 + r) * lda + k0;
            for (int k = 0; k < kc; k++) out[k * MR + r] = src[k];
        } else {
            for (int k = 0; k < kc; k++) out[k * MR + r] = 0.f;
        }
    }
}

/* Columns [n0, n0 + nr) of B for rows [k0, k0 + kc): out[k * NR + c], zero columns past nr. */
static void pack_b(const float *b, int ldb, int n0, int nr, int k0, int kc, float *out) {
    for (int k = 0; k < kc; k++) {
        const float *src = b + (size_t)(k0 + k) * ldb + n0;
        float *dst = out + k * NR;
        if (nr == NR) {
            memcpy(dst, src, NR * sizeof(float));
        } else {
            int c = 0;
            for (; c < nr; c++) dst[c] = src[c];
            for (; c < NR; c++) dst[c] = 0.f;
        }
    }
}

__attribute__((target("avx512f")))
static void kernel_12x32(int kc, const float *pa, const float *pb, float *c, int ldc, int mr, int nr, int accumulate) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00,
           c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
        __m512 a;
#define CZOO_ROW(i, x0, x1) a = _mm512_set1_ps(pa[i]); x0 = _mm512_fmadd_ps(a, b0, x0); x1 = _mm512_fmadd_ps(a, b1, x1);
        CZOO_ROW(0, c00, c01) CZOO_ROW(1, c10, c11) CZOO_ROW(2, c20, c21) CZOO_ROW(3, c30, c31)
        CZOO_ROW(4, c40, c41) CZOO_ROW(5, c50, c51) CZOO_ROW(6, c60, c61) CZOO_ROW(7, c70, c71)
        CZOO_ROW(8, c80, c81) CZOO_ROW(9, c90, c91) CZOO_ROW(10, ca0, ca1) CZOO_ROW(11, cb0, cb1)
#undef CZOO_ROW
        pa += MR;
        pb += NR;
    }
    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51},
                         {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91}, {ca0, ca1}, {cb0, cb1}};
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int r = 0; r < mr; r++) {
        float *row = c + (size_t)r * ldc;
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}

/* Per-thread panels, grown on demand and freed when the thread exits: dispatch's worker
   threads come and go, and a panel kept in plain thread-local storage outlived its thread
   (512 KiB or more per thread that ever ran a GEMM, found by LeakSanitizer). */
typedef struct { float *a, *b; size_t cap_a, cap_b; } panels_t;
static pthread_key_t panels_key;
static pthread_once_t panels_once = PTHREAD_ONCE_INIT;
static int panels_ok = 0;

static void panels_free(void *p) {
    panels_t *t = p;
    free(t->a);
    free(t->b);
    free(t);
}

static void panels_init(void) { panels_ok = pthread_key_create(&panels_key, panels_free) == 0; }

static panels_t *thread_panels(void) {
    pthread_once(&panels_once, panels_init);
    if (!panels_ok) return NULL;
    panels_t *t = pthread_getspecific(panels_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (t && pthread_setspecific(panels_key, t) != 0) { free(t); return NULL; }
    return t;
}

static float *grow(float **p, size_t *cap, size_t need) {
    if (need <= *cap) return *p;
    float *q = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
    if (!q) return NULL;
    free(*p);
    *p = q;
    *cap = need;
    return q;
}

/* All of A packed: for each KC block, its panels (MR rows x kc) one after another. */
static void pack_all_a(const float *a, int lda, int m, int k, float *out) {
    size_t panels = (size_t)(m + MR - 1) / MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC;
        float *block = out + panels * MR * (size_t)k0;
        for (size_t p = 0; p < panels; p++) {
            int m0 = (int)p * MR;
            pack_a(a, lda, m0, m - m0 < MR ? m - m0 : MR, k0, kc, block + p * MR * kc);
        }
    }
}

int czoo_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
    if (!czoo_sgemm_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0) {
        if (!accumulate) for (int r = 0; r < m; r++) memset(c + (size_t)r * ldc, 0, (size_t)n * sizeof(float));
        return 0;
    }
    size_t panels = (size_t)(m + MR - 1) / MR;
    panels_t *t = thread_panels();
    if (!t) return -1;
    float *pa = grow(&t->a, &t->cap_a, panels * MR * KC);
    float *pb = grow(&t->b, &t->cap_b, (size_t)NC * KC);
    if (!pa || !pb) return -1;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC;
        for (size_t p = 0; p < panels; p++) {
            int m0 = (int)p * MR;
            pack_a(a, lda, m0, m - m0 < MR ? m - m0 : MR, k0, kc, pa + p * MR * kc);
        }
        int acc = accumulate || k0 > 0;
        for (int n0 = 0; n0 < n; n0 += NC) {
            int nb = n - n0 < NC ? n - n0 : NC;
            for (int j = 0; j < nb; j += NR) pack_b(b, ldb, n0 + j, nb - j < NR ? nb - j : NR, k0, kc, pb + (size_t)(j / NR) * NR * kc);
            for (size_t p = 0; p < panels; p++) {
                int m0 = (int)p * MR, mr = m - m0 < MR ? m - m0 : MR;
                for (int j = 0; j < nb; j += NR) {
                    kernel_12x32(kc, pa + p * MR * kc, pb + (size_t)(j / NR) * NR * kc, c + (size_t)m0 * ldc + n0 + j, ldc, mr,
                                 nb - j < NR ? nb - j : NR, acc);
                }
            }
        }
    }
    return 0;
}

size_t czoo_sgemm_packed_floats(int m, int k) { return (size_t)((m + MR - 1) / MR) * MR * (size_t)(k > 0 ? k : 0); }

void czoo_sgemm_pack(int m, int k, const float *a, int lda, float *out) { pack_all_a(a, lda, m, k, out); }

int czoo_sgemm_packed(int m, int n, int k, const float *packed, int row_begin, int row_end, const float *b, int ldb, float *c, int ldc) {
    if (!czoo_sgemm_available()) return -1;
    if (row_begin % MR != 0 || row_begin < 0 || row_end > m || row_begin >= row_end || n <= 0) return row_begin >= row_end || n <= 0 ? 0 : -1;
    if (k <= 0) {
        for (int r = row_begin; r < row_end; r++) memset(c + (size_t)r * ldc, 0, (size_t)n * sizeof(float));
        return 0;
    }
    panels_t *t = thread_panels();
    if (!t) return -1;
    float *pb = grow(&t->b, &t->cap_b, (size_t)NC * KC);
    if (!pb) return -1;
    size_t panels = (size_t)(m + MR - 1) / MR;
    size_t p0 = (size_t)row_begin / MR, p1 = ((size_t)row_end + MR - 1) / MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC;
        const float *blockA = packed + panels * MR * (size_t)k0;
        for (int n0 = 0; n0 < n; n0 += NC) {
            int nb = n - n0 < NC ? n - n0 : NC;
            for (int j = 0; j < nb; j += NR) pack_b(b, ldb, n0 + j, nb - j < NR ? nb - j : NR, k0, kc, pb + (size_t)(j / NR) * NR * kc);
            for (size_t p = p0; p < p1; p++) {
                int m0 = (int)p * MR, mr = row_end - m0 < MR ? row_end - m0 : MR;
                for (int j = 0; j < nb; j += NR) {
                    kernel_12x32(kc, blockA + p * MR * kc, pb + (size_t)(j / NR) * NR * kc, c + (size_t)m0 * ldc + n0 + j, ldc, mr,
                                 nb - j < NR ? nb - j : NR, k0 > 0);
                }
            }
        }
    }
    return 0;
}
#else
int czoo_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc, int accumulate) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc; (void)accumulate;
    return -1;
}
size_t czoo_sgemm_packed_floats(int m, int k) { (void)m; (void)k; return 0; }
void czoo_sgemm_pack(int m, int k, const float *a, int lda, float *out) { (void)m; (void)k; (void)a; (void)lda; (void)out; }
int czoo_sgemm_packed(int m, int n, int k, const float *packed, int row_begin, int row_end, const float *b, int ldb, float *c, int ldc) {
    (void)m; (void)n; (void)k; (void)packed; (void)row_begin; (void)row_end; (void)b; (void)ldb; (void)c; (void)ldc;
    return -1;
}
#endif
