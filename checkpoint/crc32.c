/*
 * checkpoint/crc32.c — CRC-32 (IEEE 802.3), the checksum that ends a checkpoint.
 *
 * The CRC is the remainder of the message (bits taken least significant
 * first) times x^32, divided by the polynomial
 *   x^32 + x^26 + x^23 + x^22 + x^16 + x^12 + x^11 + x^10 + x^8 + x^7 + x^5 + x^4 + x^2 + x + 1,
 * whose reflected form is 0xEDB88320, with the register preset to all ones
 * and inverted at the end (as zlib's crc32 and PNG). A byte at a time:
 *   crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8),
 * where table[n] is n shifted through eight steps of the bitwise division.
 */
#include "checkpoint_impl.h"

/* One bit of the division: shift right, and subtract (xor) the polynomial when a 1 falls out. */
#define CRC_BIT(c) (((c) >> 1) ^ (0xEDB88320u & (0u - ((c) & 1u))))
#define CRC_BYTE(n) CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT(CRC_BIT((uint32_t)(n)))))))))
#define CRC_4(n) CRC_BYTE(n), CRC_BYTE((n) + 1), CRC_BYTE((n) + 2), CRC_BYTE((n) + 3)
#define CRC_16(n) CRC_4(n), CRC_4((n) + 4), CRC_4((n) + 8), CRC_4((n) + 12)
#define CRC_64(n) CRC_16(n), CRC_16((n) + 16), CRC_16((n) + 32), CRC_16((n) + 48)

/* Computed by the compiler from the definition above. */
static const uint32_t crc_table[256] = {CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192)};

uint32_t recur_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}
