/* Does hashing two SHA-256 streams interleaved on one core (SHA-NI) beat two
   streams one after the other? If SHA-NI were latency-bound, the two
   independent round chains would overlap and the pair would run near 2x.
   Checks the "abc" test vector, then times 2 x 256 MiB both ways.

       gcc -O3 -funroll-loops -o /tmp/sha_interleave bench/sha_interleave.c && /tmp/sha_interleave

   On the project's machine: 1.80 GB/s one after the other, 1.77-2.03 GB/s
   interleaved over ten runs: SHA-NI is close to throughput-bound there, so
   interleaving buys at most ~12% and would put both streams on one core. */
#include <immintrin.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static const uint32_t K[64] = {
0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};

#define T __attribute__((target("sha,sse4.1,ssse3")))
T static inline void load_state(const uint32_t *s, __m128i *s0, __m128i *s1) {
  __m128i tmp = _mm_loadu_si128((const __m128i*)s);        /* DCBA */
  __m128i st1 = _mm_loadu_si128((const __m128i*)(s + 4));   /* HGFE */
  tmp = _mm_shuffle_epi32(tmp, 0xB1);                       /* CDAB */
  st1 = _mm_shuffle_epi32(st1, 0x1B);                       /* EFGH */
  *s0 = _mm_alignr_epi8(tmp, st1, 8);                       /* ABEF */
  *s1 = _mm_blend_epi16(st1, tmp, 0xF0);                    /* CDGH */
}
T static inline void store_state(uint32_t *s, __m128i s0, __m128i s1) {
  __m128i tmp = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);            /* DCHG */
  s0 = _mm_blend_epi16(tmp, s1, 0xF0);         /* DCBA */
  s1 = _mm_alignr_epi8(s1, tmp, 8);            /* HGFE */
  _mm_storeu_si128((__m128i*)s, s0);
  _mm_storeu_si128((__m128i*)(s + 4), s1);
}
T void x1(uint32_t *state, const uint8_t *p, size_t blocks) {
  const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i s0, s1; load_state(state, &s0, &s1);
  for (size_t b = 0; b < blocks; b++, p += 64) {
    __m128i a0 = s0, a1 = s1, w[4];
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i*)(p + 16*i)), mask);
    for (int g = 0; g < 16; g++) {
      __m128i m = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i*)(K + 4*g)));
      s1 = _mm_sha256rnds2_epu32(s1, s0, m);
      if (g >= 3 && g <= 14) {
        __m128i t = _mm_add_epi32(w[(g + 1) & 3], _mm_alignr_epi8(w[g & 3], w[(g - 1) & 3], 4));
        w[(g + 1) & 3] = _mm_sha256msg2_epu32(t, w[g & 3]);
      }
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
      if (g >= 1 && g <= 12) w[(g - 1) & 3] = _mm_sha256msg1_epu32(w[(g - 1) & 3], w[g & 3]);
    }
    s0 = _mm_add_epi32(s0, a0); s1 = _mm_add_epi32(s1, a1);
  }
  store_state(state, s0, s1);
}
T void x2(uint32_t *sa, const uint8_t *pa, uint32_t *sb, const uint8_t *pb, size_t blocks) {
  const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i s0, s1, t0, t1; load_state(sa, &s0, &s1); load_state(sb, &t0, &t1);
  for (size_t b = 0; b < blocks; b++, pa += 64, pb += 64) {
    __m128i a0 = s0, a1 = s1, c0 = t0, c1 = t1, w[4], v[4];
    for (int i = 0; i < 4; i++) { w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i*)(pa + 16*i)), mask); v[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i*)(pb + 16*i)), mask); }
    for (int g = 0; g < 16; g++) {
      __m128i k = _mm_loadu_si128((const __m128i*)(K + 4*g));
      __m128i m = _mm_add_epi32(w[g & 3], k), n = _mm_add_epi32(v[g & 3], k);
      s1 = _mm_sha256rnds2_epu32(s1, s0, m);
      t1 = _mm_sha256rnds2_epu32(t1, t0, n);
      if (g >= 3 && g <= 14) {
        w[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[(g + 1) & 3], _mm_alignr_epi8(w[g & 3], w[(g - 1) & 3], 4)), w[g & 3]);
        v[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(v[(g + 1) & 3], _mm_alignr_epi8(v[g & 3], v[(g - 1) & 3], 4)), v[g & 3]);
      }
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
      t0 = _mm_sha256rnds2_epu32(t0, t1, _mm_shuffle_epi32(n, 0x0E));
      if (g >= 1 && g <= 12) { w[(g - 1) & 3] = _mm_sha256msg1_epu32(w[(g - 1) & 3], w[g & 3]); v[(g - 1) & 3] = _mm_sha256msg1_epu32(v[(g - 1) & 3], v[g & 3]); }
    }
    s0 = _mm_add_epi32(s0, a0); s1 = _mm_add_epi32(s1, a1); t0 = _mm_add_epi32(t0, c0); t1 = _mm_add_epi32(t1, c1);
  }
  store_state(sa, s0, s1); store_state(sb, t0, t1);
}
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
int main(){
  const uint32_t iv[8]={0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
  /* "abc" test */ uint8_t blk[64]={0}; blk[0]='a';blk[1]='b';blk[2]='c';blk[3]=0x80; blk[63]=24;
  uint32_t s[8]; memcpy(s,iv,32); x1(s,blk,1); printf("abc: "); for(int i=0;i<8;i++) printf("%08x",s[i]); printf("\n");
  uint32_t a[8], b[8]; memcpy(a,iv,32); memcpy(b,iv,32); x2(a,blk,b,blk,1); printf("x2 : "); for(int i=0;i<8;i++) printf("%08x",a[i]); printf(" %s\n", memcmp(a,b,32)==0?"same":"diff");
  size_t n = 256<<20; uint8_t *d = malloc(2*n); for(size_t i=0;i<2*n;i++) d[i]=i*131+7;
  for (int r=0;r<3;r++){ double t=now(); memcpy(s,iv,32); x1(s,d,n/64); x1(s,d+n,n/64); double e1=now()-t; t=now(); x2(a,d,b,d+n,n/64); double e2=now()-t; printf("x1 two streams %.3f s (%.2f GB/s), x2 %.3f s (%.2f GB/s)\n", e1, 2*n/e1/1e9, e2, 2*n/e2/1e9); }
}
