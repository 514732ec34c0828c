#include "CZooKernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CZOO_X86 1
#endif

void czoo_score_rows_portable(const float *m, size_t rows, size_t d, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = m + r * d;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t k = 0;
        for (; k + 4 <= d; k += 4) {
            s0 += row[k] * x[k];
            s1 += row[k + 1] * x[k + 1];
            s2 += row[k + 2] * x[k + 2];
            s3 += row[k + 3] * x[k + 3];
        }
        for (; k < d; k++) s0 += row[k] * x[k];
        y[r] = (s0 + s1) + (s2 + s3);
    }
}

#ifdef CZOO_X86
__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_shuffle_ps(a, a, 1));
    return _mm_cvtss_f32(a);
}

__attribute__((target("avx2,fma")))
static void score_avx2(const float *m, size_t rows, size_t d, const float *x, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = m + r * d;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t k = 0;
        for (; k + 32 <= d; k += 32) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + k), _mm256_loadu_ps(x + k), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + k + 8), _mm256_loadu_ps(x + k + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(row + k + 16), _mm256_loadu_ps(x + k + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(row + k + 24), _mm256_loadu_ps(x + k + 24), s3);
        }
        for (; k + 8 <= d; k += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + k), _mm256_loadu_ps(x + k), s0);
        float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for (; k < d; k++) s += row[k] * x[k];
        y[r] = s;
    }
}
#endif

static int vectorised = -1;

int czoo_score_rows_vectorised(void) {
    int v = __atomic_load_n(&vectorised, __ATOMIC_RELAXED);
    if (v < 0) {
#ifdef CZOO_X86
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        v = 0;
#endif
        __atomic_store_n(&vectorised, v, __ATOMIC_RELAXED);
    }
    return v;
}

void czoo_score_rows(const float *m, size_t rows, size_t d, const float *x, float *y) {
#ifdef CZOO_X86
    if (czoo_score_rows_vectorised()) { score_avx2(m, rows, d, x, y); return; }
#endif
    czoo_score_rows_portable(m, rows, d, x, y);
}
