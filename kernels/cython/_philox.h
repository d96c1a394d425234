/* Counter-based random bits: Philox-4x32-10 (Salmon et al., SC'11) exactly as
 * kernels/reference/rng.py. Element e of a mask is word e % 4 of the block with counter
 * (e/4 low 32 bits, e/4 high 32 bits, stream, 0) and key (seed low, seed high); the key is bumped
 * before every round but the first. Scalar definition plus SSE2 and AVX2 block generators. */
#ifndef FASTMLP_PHILOX_H
#define FASTMLP_PHILOX_H

#include "_simd.h"

/* Elements whose random words are made in one go into a thread's scratch (8 KiB of words: stays
 * in L1). A multiple of 4, so a segment starting at a multiple of FM_SEG starts on a Philox
 * block; FM_WORDS leaves room for the SIMD code's last, partly used group of 4 blocks. */
#define FM_SEG 2048
#define FM_WORDS (FM_SEG + 24)

#define FM_PHILOX_M0 0xD2511F53u
#define FM_PHILOX_M1 0xCD9E8D57u
#define FM_PHILOX_W0 0x9E3779B9u
#define FM_PHILOX_W1 0xBB67AE85u

/* One block, scalar: the definition the SIMD versions below must reproduce. */
static inline void fm_philox(uint32_t c[4], uint32_t k0, uint32_t k1) {
    uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    for (int rnd = 0; rnd < 10; rnd++) {
        if (rnd) {
            k0 += FM_PHILOX_W0; /* uint32 wrap-around is the reference's & 0xFFFFFFFF */
            k1 += FM_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)FM_PHILOX_M0 * c0; /* 32 x 32 -> 64 bits, exact */
        uint64_t p1 = (uint64_t)FM_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
}

#if FM_X86
/* gcc's auto-vectorised Philox shuffles 32-bit lanes in and out of 64-bit products and falls well
 * behind Numba/LLVM's (benches/NOTES.md, 'Measurements behind code comments': _philox.h). Here
 * each 64-bit lane holds one block's 32-bit word in its low half: pmuludq reads only the low
 * halves, so the high halves may hold garbage until the final pack, and no shuffle is needed in
 * the rounds. Writes words of blocks q0 .. q0 + nb (rounded up to whole vectors) in flat order. */
FM_AVX2 FM_NOINLINE static void fm_philox_words_avx2(uint32_t *words, uint64_t q0, size_t nb, uint32_t stream,
                                                     uint32_t k0, uint32_t k1) {
    const __m256i m0 = _mm256_set1_epi64x(FM_PHILOX_M0), m1 = _mm256_set1_epi64x(FM_PHILOX_M1);
    const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFF), step = _mm256_setr_epi64x(0, 1, 2, 3);
    __m256i key0[10], key1[10];
    for (int r = 0; r < 10; r++) {
        key0[r] = _mm256_set1_epi64x((uint32_t)(k0 + (uint32_t)r * FM_PHILOX_W0));
        key1[r] = _mm256_set1_epi64x((uint32_t)(k1 + (uint32_t)r * FM_PHILOX_W1));
    }
    for (size_t b = 0; b < nb; b += 4) {
        __m256i q = _mm256_add_epi64(_mm256_set1_epi64x((long long)(q0 + b)), step);
        __m256i c0 = q, c1 = _mm256_srli_epi64(q, 32), c2 = _mm256_set1_epi64x(stream);
        __m256i c3 = _mm256_setzero_si256();
        for (int r = 0; r < 10; r++) {
            __m256i p0 = _mm256_mul_epu32(c0, m0), p1 = _mm256_mul_epu32(c2, m1);
            c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), key0[r]);
            c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), key1[r]);
            c1 = p1;
            c3 = p0;
        }
        __m256i w01 = _mm256_or_si256(_mm256_and_si256(c0, lo32), _mm256_slli_epi64(c1, 32));
        __m256i w23 = _mm256_or_si256(_mm256_and_si256(c2, lo32), _mm256_slli_epi64(c3, 32));
        __m256i even = _mm256_unpacklo_epi64(w01, w23), odd = _mm256_unpackhi_epi64(w01, w23);
        _mm256_storeu_si256((__m256i *)(words + 4 * b), _mm256_permute2x128_si256(even, odd, 0x20));
        _mm256_storeu_si256((__m256i *)(words + 4 * b + 8), _mm256_permute2x128_si256(even, odd, 0x31));
    }
}

/* The same with SSE2 (every x86-64): two blocks per vector. */
FM_NOINLINE static void fm_philox_words_sse2(uint32_t *words, uint64_t q0, size_t nb, uint32_t stream,
                                             uint32_t k0, uint32_t k1) {
    const __m128i m0 = _mm_set1_epi64x(FM_PHILOX_M0), m1 = _mm_set1_epi64x(FM_PHILOX_M1);
    const __m128i lo32 = _mm_set1_epi64x(0xFFFFFFFF), step = _mm_set_epi64x(1, 0);
    __m128i key0[10], key1[10];
    for (int r = 0; r < 10; r++) {
        key0[r] = _mm_set1_epi64x((uint32_t)(k0 + (uint32_t)r * FM_PHILOX_W0));
        key1[r] = _mm_set1_epi64x((uint32_t)(k1 + (uint32_t)r * FM_PHILOX_W1));
    }
    for (size_t b = 0; b < nb; b += 2) {
        __m128i q = _mm_add_epi64(_mm_set1_epi64x((long long)(q0 + b)), step);
        __m128i c0 = q, c1 = _mm_srli_epi64(q, 32), c2 = _mm_set1_epi64x(stream), c3 = _mm_setzero_si128();
        for (int r = 0; r < 10; r++) {
            __m128i p0 = _mm_mul_epu32(c0, m0), p1 = _mm_mul_epu32(c2, m1);
            c0 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1, 32), c1), key0[r]);
            c2 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0, 32), c3), key1[r]);
            c1 = p1;
            c3 = p0;
        }
        __m128i w01 = _mm_or_si128(_mm_and_si128(c0, lo32), _mm_slli_epi64(c1, 32));
        __m128i w23 = _mm_or_si128(_mm_and_si128(c2, lo32), _mm_slli_epi64(c3, 32));
        _mm_storeu_si128((__m128i *)(words + 4 * b), _mm_unpacklo_epi64(w01, w23));
        _mm_storeu_si128((__m128i *)(words + 4 * b + 4), _mm_unpackhi_epi64(w01, w23));
    }
}
#endif

/* words[off .. off+len) <- the words of flat elements e_lo .. e_lo+len-1 (len <= FM_SEG);
 * returns off = e_lo % 4. words holds FM_WORDS entries. */
static inline int fm_fill_words(uint32_t *words, int64_t e_lo, int64_t len, uint32_t stream, uint32_t k0,
                                uint32_t k1) {
    uint64_t q0 = (uint64_t)e_lo >> 2;
    size_t nb = (size_t)((((uint64_t)(e_lo + len) + 3) >> 2) - q0);
#if FM_X86
    if (fm_has_avx2())
        fm_philox_words_avx2(words, q0, nb, stream, k0, k1);
    else
        fm_philox_words_sse2(words, q0, nb, stream, k0, k1);
#else
    for (size_t b = 0; b < nb; b++) {
        uint64_t q = q0 + b;
        uint32_t c[4] = {(uint32_t)q, (uint32_t)(q >> 32), stream, 0u};
        fm_philox(c, k0, k1);
        memcpy(words + 4 * b, c, sizeof c);
    }
#endif
    return (int)(e_lo & 3);
}

#endif
