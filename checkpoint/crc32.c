/*
 * checkpoint/crc32.c — CRC-32 (IEEE 802.3), the checksum that ends a checkpoint,
 * computed by zlib's crc32_z.
 *
 * The CRC is the remainder of the message (bits taken least significant
 * first) times x^32, divided by the polynomial
 *   x^32 + x^26 + x^23 + x^22 + x^16 + x^12 + x^11 + x^10 + x^8 + x^7 + x^5 + x^4 + x^2 + x + 1,
 * whose reflected form is 0xEDB88320, with the register preset to all ones
 * and inverted at the end: zlib's crc32 (and PNG's) exactly, so the files
 * written before recur used zlib keep their checksums. zlib's crc32 takes
 * the CRC so far (0 to start) as recur_crc32 does; given no buffer it
 * would return its initial value, so nothing to add returns crc as it is.
 */
#include <zlib.h>

#include "checkpoint_impl.h"

uint32_t recur_crc32(uint32_t crc, const void *p, size_t n)
{
    if (n == 0) return crc;
    return (uint32_t)crc32_z((uLong)crc, (const Bytef *)p, (z_size_t)n);
}
