/* Failure injection for the tests: a test arms a named step of a kernel path
 * ("fallback.gemm") to fail on one of its next passes on this thread, and
 * checks that the caller's memory is as the contract says (C untouched, or
 * only the chunks before the failure written). Internal: not in the public
 * header. Unarmed, a check is one thread-local load. */
#ifndef W4A16_COMMON_FAULT_H
#define W4A16_COMMON_FAULT_H

#ifdef __cplusplus
extern "C" {
#endif

/* The sites the library checks, in the order a call passes them. */
#define W4A16_FAULT_PACK_LAUNCH "pack.launch"
#define W4A16_FAULT_FALLBACK_PERMUTE "fallback.permute"
#define W4A16_FAULT_FALLBACK_DEQUANTIZE "fallback.dequantize"
#define W4A16_FAULT_FALLBACK_GEMM "fallback.gemm"
#define W4A16_FAULT_DECODE_LAUNCH "decode.launch"
#define W4A16_FAULT_DECODE_V2_LAUNCH "decode_v2.launch"
#define W4A16_FAULT_SM90_PERMUTE "sm90.permute"
#define W4A16_FAULT_SM90_LAUNCH "sm90.launch"

/* Fail `site` on its (skip + 1)-th pass from now on this thread, once. */
void w4a16_fault_arm(const char *site, int skip);
void w4a16_fault_disarm(void);
/* 1 when this pass of `site` is the armed one (which disarms it). */
int w4a16_fault_hit(const char *site);

/* `error` instead of evaluating `expr` when the site is armed for this pass. */
#define W4A16_FAULT_OR(site, error, expr) (w4a16_fault_hit(site) ? (error) : (expr))

#ifdef __cplusplus
}
#endif
#endif
