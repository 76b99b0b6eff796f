/*
 * backends/onednn/cut.c — how a 2-D product op(a) [m, k] . op(b) [k, n] is
 * cut into blocks that run on recur's pool, each a single-threaded oneDNN
 * call (onednn.h): a rule of the shape (and of whether the plan packs b,
 * itself a rule of the shapes of its readers), never of the thread count,
 * and each element of y stays a whole k-long sum inside one call, so the
 * results do not depend on the threads.
 *
 * A row block reads its rows of op(a) and all of op(b); a column block
 * reads all of op(a) and its columns of op(b). Each block therefore reads
 * one operand again. Weights the plan packs into oneDNN's blocked layout
 * (read by many products: a layer's recurrent weights at every step) are
 * read fast from there, so such products are cut by rows, all reading one
 * packed copy. Any other product is cut across its larger operand: by
 * columns when m < n (op(a) is the smaller one), by rows otherwise; and a
 * block reading again an operand too large for a core's L2 cache streams
 * it from memory, so it must do enough with it: at least BIG_MIN rows or
 * columns (2 BIG_MIN FLOPs per float read again). Measured on this
 * machine, two threads, bench config (b)'s training step (the sums of its
 * products' times over the same runs, RECUR_PROFILE with RECUR_DUMP), against
 * oneDNN's own partition of each product on two OpenMP threads:
 *   the two weight-gradient products [2048, 3200] x [3200, 512] (a transposed):
 *     rows of 16-32: 264-275 ms; this rule: 214-230; oneDNN on OpenMP: 190
 *   the per-step products on packed weights [64, 512] x [512, 2048] and back:
 *     rows of 16: 106 + 119 ms; columns of 128 on the plain weights: 129 + 153; OpenMP: 109 + 104
 * and alone, [64, 512] x [512, 2048] on plain (not packed) weights: rows of
 * 16 0.85 ms, columns of 128 0.39, one call on OpenMP 0.48-0.51.
 *
 * A product that sums over the rows of both operands stored as they are,
 * a^T b with a [k, m] and b [k, n] (a weight gradient: the sum over time
 * steps and batch of dY^T X), is cut in depth instead when y is larger than
 * L2: block i takes rows [i s, i s + s) of a and b, each a dense matrix, so
 * oneDNN runs it with its fastest kernel (brgemm; a block of a^T's rows is
 * strided, and with it oneDNN falls back to a slower kernel, or to its
 * reference one when b is packed), and y is the sum of the blocks' partial
 * products, added in block order whatever thread made them. Measured,
 * [2048, 3200] x [3200, 512] with a transposed, one thread: 37.5 ms as one
 * call on packed b, 40-43 as 8 row blocks, 2 x 19.4 as 2 depth blocks;
 * in bench (b)'s training step, on two threads, its two weight gradients
 * went from 27.5 + 23.6 to 22.7 + 22.5 ms (RECUR_PROFILE), the step from
 * 135.6 to 133.3 ms (median of 5 interleaved runs). Two blocks, not more:
 * each adds y's size (4 MiB there) to the step's workspace, and 4 measured
 * no faster.
 */
#include "onednn.h"

/*
 * A product below this many FLOPs (2 m k n) is one call on the calling
 * thread: at oneDNN's single-core rate (60-120 GFLOP/s here) it takes under
 * about 20 us, and handing blocks to a second thread saves less than a
 * woken thread may cost.
 */
#define SPLIT_MIN_FLOPS 2e6

/*
 * FLOPs per row block aimed at: a quarter of the product, but at least
 * ROW_BLOCK_MIN_FLOPS and at most ROW_BLOCK_MAX_FLOPS. More blocks make up
 * better for a thread that lost its core (a block of the most FLOPs takes
 * about 0.15 ms on one core here); fewer cost fewer oneDNN calls, each
 * with its own setup and its own pass over b, and leave each thread
 * longer runs of rows. Measured, bench (a)'s training step (its
 * sequence-wide products of 117-168 MFLOP then run as 4-5 blocks instead
 * of 32-54), interleaved medians against oneDNN's primitive in the same
 * rounds: 3.863 against 4.184 ms (nine rounds; the primitive 4.261), 3.666
 * against 3.849 (five); (b), (c), (f1) and (g) within their noise (their
 * large products hit the cap, and still make 64 blocks).
 */
#define ROW_BLOCK_MIN_FLOPS 1e6
#define ROW_BLOCK_MAX_FLOPS 3e7
#define ROW_BLOCKS_AIMED 4

/* ... and per column block (those stream b from memory at a few FLOPs per float: smaller blocks). */
#define COL_BLOCK_FLOPS 5e5

/* The most blocks a product is cut into. */
#define MAX_BLOCKS 64

/* An operand of up to this many floats (512 KiB) stays in a core's L2 cache from one call to the next. */
#define SMALL_FLOATS (128 * 1024)

/* The fewest rows (columns) of a block whose operand read again fits in L2. */
#define MIN_ROWS 16
#define MIN_COLS 128

/* The fewest rows or columns of a block whose operand read again does not. */
#define BIG_MIN 256

/* Depth blocks: the fewest rows of a and b each, and the most blocks (each but the first adds a partial sum of y to memory). */
#define DEPTH_MIN 512
#define DEPTH_MAX_BLOCKS 2

/*
 * The size of each block when `whole` rows or columns of a product of
 * `flops` FLOPs are cut into blocks of about `per_block` FLOPs, at least
 * `min_size` and a multiple of `align` each, at most MAX_BLOCKS of them;
 * `whole` when that makes fewer than two.
 */
static int64_t block_size(int64_t whole, double flops, double per_block, int64_t min_size, int64_t align)
{
    double want = flops / per_block;
    int64_t nb = want < (double)MAX_BLOCKS ? (int64_t)want : MAX_BLOCKS;
    if (nb > whole / min_size) nb = whole / min_size;
    if (nb < 2) return whole;
    int64_t size = (whole + nb - 1) / nb;
    size = (size + align - 1) / align * align;
    return size < whole ? size : whole;
}

/*
 * The fewest rows (columns) of a block of `whole` when the operand each
 * block reads again is `big` (larger than L2) or not: BIG_MIN, or at most a
 * quarter of the whole (a product of 64 rows still makes 4 blocks).
 */
static int64_t min_size(int64_t whole, int big, int64_t small_min)
{
    if (!big) return small_min;
    int64_t quarter = whole / 4 > small_min ? whole / 4 : small_min;
    return quarter < BIG_MIN ? quarter : BIG_MIN;
}

onednn_cut recur_onednn_cut(int64_t m, int64_t k, int64_t n, int ta, int tb, int packed)
{
    onednn_cut c = {.size = m};
    double flops = 2.0 * (double)m * (double)k * (double)n;
    if (flops < SPLIT_MIN_FLOPS) return c;
    if (ta && !tb && m * n > SMALL_FLOATS && k >= 2 * DEPTH_MIN) {
        int64_t nb = k / DEPTH_MIN < DEPTH_MAX_BLOCKS ? k / DEPTH_MIN : DEPTH_MAX_BLOCKS;
        return (onednn_cut){.by_depth = 1, .size = (k + nb - 1) / nb};
    }
    /*
     * Columns when a is the smaller operand, b is streamed from memory (a b
     * kept in L2, as the per-step products of a small layer read, is cheap
     * to read again) and read as it is (a packed b is cut by rows).
     */
    if (!packed && m < n && k * n > SMALL_FLOATS) {
        int64_t size = block_size(n, flops, COL_BLOCK_FLOPS, min_size(n, m * k > SMALL_FLOATS, MIN_COLS), 16);
        if (size < n) return (onednn_cut){.by_cols = 1, .size = size};
    }
    double per_block = flops / ROW_BLOCKS_AIMED;
    per_block = per_block < ROW_BLOCK_MIN_FLOPS ? ROW_BLOCK_MIN_FLOPS
                : per_block > ROW_BLOCK_MAX_FLOPS ? ROW_BLOCK_MAX_FLOPS
                                                  : per_block;
    c.size = block_size(m, flops, per_block, min_size(m, k * n > SMALL_FLOATS, MIN_ROWS), 8);
    return c;
}
