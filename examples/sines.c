/*
 * examples/sines.c — the material's first experiment: predict the next
 * value of a sum of sines, v(t) = sin(0.1 t) + 0.5 sin(0.3 t), from the 5
 * values before it, with
 *   (a) a dense net: 5 leaky-ReLU units (slope 0.1), then 1 linear output,
 *       reading the 5 values at once, and
 *   (b) a tiny LSTM with 3 state values reading the same 5 values one per
 *       step, then a dense 3 -> 1 on its last step.
 * Both train with the trainer (Adam, full batch) on t = 0..399 and are
 * tested on t = 400..599. Prints the train and test mse of both and writes
 * the loss curves and the predictions as SVG and PNG (through gnuplot).
 *
 * Usage: sines [output directory] [steps]   (defaults: examples/out, 3000)
 */
#include "window_models.h"

enum { LEN = 600, N_TRAIN = 400 };

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "examples/out";
    int64_t steps = argc > 2 ? atoll(argv[2]) : 3000;
    if (steps < 1) {
        fprintf(stderr, "usage: sines [output directory] [steps >= 1]\n");
        return 2;
    }
    static float v[LEN];
    for (int t = 0; t < LEN; t++) v[t] = (float)(sin(0.1 * t) + 0.5 * sin(0.3 * t));

    wm_setup s = {.v = v, .len = LEN, .n_train = N_TRAIN, .steps = steps, .lr = 1e-2, .eval_every = 25, .seed = 1};
    wm_model m[2] = {{.kind = WM_DENSE, .label = "dense 5 leaky-ReLU"}, {.kind = WM_LSTM, .label = "LSTM 3"}};
    printf("sum of sines, windows of %d: %d training targets (t = %d..%d), %d test targets (t = %d..%d), %lld steps\n",
           WM_WINDOW, N_TRAIN - WM_WINDOW, WM_WINDOW, N_TRAIN - 1, LEN - N_TRAIN, N_TRAIN, LEN - 1, (long long)steps);
    printf("  %-20s train mse %.6f  test mse %.6f\n", "the value before", /* a yardstick */
           wm_mse(v + WM_WINDOW - 1, v + WM_WINDOW, N_TRAIN - WM_WINDOW), wm_mse(v + N_TRAIN - 1, v + N_TRAIN, LEN - N_TRAIN));
    for (int k = 0; k < 2; k++) {
        if (wm_train(&s, &m[k])) return 1;
        printf("  %-20s train mse %.6f  test mse %.6f  (%.1f s)\n", m[k].label,
               wm_mse(m[k].pred_train, v + WM_WINDOW, N_TRAIN - WM_WINDOW),
               wm_mse(m[k].pred_test, v + N_TRAIN, LEN - N_TRAIN), m[k].seconds);
    }
    int rc = wm_mkdir(dir) || wm_plots(dir, "sines", "Sum of sines", "", v, LEN, N_TRAIN, 0, 1, "t", "v(t)", m);
    wm_free(&m[0]);
    wm_free(&m[1]);
    return rc;
}
