/*
 * ops/include/ops/vmath.h — exp, sigmoid and tanh in float as straight-line C
 * (private): range reduction and a polynomial, no libm call and no branch,
 * so a compiler vectorizes the loops that call them. Every kernel that
 * evaluates these functions (the ops' own and the fused one) calls these,
 * so fused and unfused plans agree bit for bit.
 *
 * Accuracy against double precision (tests/test_ops_activation.c checks
 * it over dense grids): exp within 2 ulp, sigmoid and tanh within 3 ulp;
 * exp overflows to inf above about 88.72 and underflows gradually (to
 * subnormals, then 0) below about -87.3, as expf does; NaN gives NaN.
 *
 * Polynomials are evaluated with fused multiply-adds (fmaf: one rounding,
 * the same bits on every CPU), an instruction in the loops' AVX2 and
 * AVX-512 builds (ops/pointwise.c) and a correctly rounded library call in
 * the baseline one.
 */
#ifndef RECUR_OPS_VMATH_H
#define RECUR_OPS_VMATH_H

#include <math.h>
#include <stdint.h>

/* The float whose bits are u. */
static inline float recur_bits_float(uint32_t u)
{
    union { uint32_t u; float f; } v = {.u = u};
    return v.f;
}

/*
 * e^x = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in
 * [-ln2/2, ln2/2]; ln 2 is split in two (hi has few bits, so n * hi is
 * exact) to keep r accurate. e^r is its Taylor polynomial to r^7 (the
 * next term is below 1e-8 relative). 2^n is applied as 2^(n/2) 2^(n-n/2),
 * two normal powers, so results overflow to inf and underflow through the
 * subnormals with one rounding. x is clamped first so n stays small;
 * a NaN is passed through.
 */
static inline float recur_vexpf(float x)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x > -104.0f ? x : -104.0f;  /* a NaN becomes -104 here, and is restored below */
    xc = xc < 89.0f ? xc : 89.0f;
    float n = (xc * log2e + round_magic) - round_magic;
    float r = fmaf(-n, ln2_lo, fmaf(-n, ln2_hi, xc));
    float p = 1.0f / 5040;
    p = fmaf(p, r, 1.0f / 720);
    p = fmaf(p, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t k = (int32_t)n, k1 = k / 2, k2 = k - k1; /* |k1|, |k2| <= 75 */
    float y = p * recur_bits_float((uint32_t)(k1 + 127) << 23) * recur_bits_float((uint32_t)(k2 + 127) << 23);
    return x == x ? y : x;
}

/*
 * sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, so
 * e = e^-|x| is at most 1 and nothing overflows: far left the result is
 * e itself (down to subnormals), far right exactly 1.
 */
static inline float recur_vsigmoidf(float x)
{
    float e = recur_vexpf(-fabsf(x));
    return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

/*
 * tanh(x) = sign(x) tanh|x|. For |x| >= 0.6, tanh|x| = (1 - e) / (1 + e)
 * with e = e^-2|x|, where 1 - e loses no accuracy; below, tanh|x| =
 * |x| + |x| u Q(u) with u = x^2 and Q of degree 5 interpolating
 * (tanh(x)/x - 1)/u at the Chebyshev nodes of u in [0, 0.36] (error below
 * 4e-10 relative). The sign is copied back, so tanh(-0) = -0.
 */
static inline float recur_vtanhf(float x)
{
    float ax = fabsf(x), u = x * x;
    float q = 0.00237076559530208f;
    q = fmaf(q, u, -0.008410070760003836f);
    q = fmaf(q, u, 0.021788321984167688f);
    q = fmaf(q, u, -0.053961551779879754f);
    q = fmaf(q, u, 0.13333312866859662f);
    q = fmaf(q, u, -0.33333333231208206f);
    float small = fmaf(ax, u * q, ax);
    float e = recur_vexpf(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    return copysignf(ax < 0.6f ? small : big, x);
}

#endif
