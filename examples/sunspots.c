/*
 * examples/sunspots.c — the material's second experiment: the two models
 * of examples/sines.c (a dense net of 5 leaky-ReLU units, a tiny LSTM of 3
 * states, both reading windows of 5 values) on the yearly mean sunspot
 * numbers, 1700-2008. The series is min-max normalised with the range of
 * the training years, the models train on the years before 1950 and are
 * tested on 1950-2008; errors are reported in sunspot numbers (the
 * normalisation inverted). Writes the loss curves and the predictions as
 * SVG and PNG (through gnuplot).
 *
 * The data: sunspots_yearly.csv found through RECUR_DATA or ../shared/data
 * (recur_data_path), else the same series as Debian's python3-statsmodels
 * installs it; without either the program says so and exits 0.
 *
 * Usage: sunspots [output directory] [steps]   (defaults: examples/out, 3000)
 */
#include "window_models.h"

#include <unistd.h>

/* Where Debian's python3-statsmodels (0.13) installs the same series. */
static const char *const fallback[] = {
    "/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv",
};

/* The path of the series into buf, 0; 1 when there is none. */
static int find_data(char *buf, size_t len)
{
    if (recur_data_path("sunspots_yearly.csv", buf, len) == RECUR_OK) return 0;
    for (size_t i = 0; i < sizeof fallback / sizeof fallback[0]; i++)
        if (access(fallback[i], R_OK) == 0) {
            snprintf(buf, len, "%s", fallback[i]);
            return 0;
        }
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "examples/out";
    int64_t steps = argc > 2 ? atoll(argv[2]) : 3000;
    if (steps < 1) {
        fprintf(stderr, "usage: sunspots [output directory] [steps >= 1]\n");
        return 2;
    }
    char path[4096];
    if (find_data(path, sizeof path)) {
        printf("sunspots: no data: %s; nor is python3-statsmodels's copy installed (%s). Set RECUR_DATA to the "
               "directory holding sunspots_yearly.csv to run this example.\n",
               recur_data_errmsg(), fallback[0]);
        return 0;
    }
    recur_series *s = recur_series_load_csv(path, "SUNACTIVITY", NULL);
    recur_series *years = s ? recur_series_load_csv(path, "YEAR", NULL) : NULL;
    if (!s || !years) {
        fprintf(stderr, "sunspots: %s\n", recur_data_errmsg());
        recur_series_free(s);
        return 1;
    }
    int64_t len = recur_series_len(s);
    float *v = recur_series_data(s);
    double year0 = recur_series_data(years)[0];
    int64_t n_train = (int64_t)(1950 - year0);
    if (recur_series_len(years) != len || n_train <= 2 * WM_WINDOW || n_train >= len) {
        fprintf(stderr, "sunspots: %s does not hold yearly values from before 1950 to after it\n", path);
        recur_series_free(s), recur_series_free(years);
        return 1;
    }

    /* Min-max normalisation fitted on the training years, applied to all. */
    float *raw = malloc(sizeof(float) * (size_t)len);
    if (!raw) return 1;
    memcpy(raw, v, sizeof(float) * (size_t)len);
    recur_norm nm;
    recur_norm_fit(&nm, RECUR_NORM_MINMAX, v, n_train);
    recur_norm_apply(&nm, v, len);

    wm_setup st = {.v = v, .len = len, .n_train = n_train, .steps = steps, .lr = 1e-2, .eval_every = 25, .seed = 1};
    wm_model m[2] = {{.kind = WM_DENSE, .label = "dense 5 leaky-ReLU"}, {.kind = WM_LSTM, .label = "LSTM 3"}};
    printf("yearly sunspot numbers from %s: train %.0f-%.0f, test %.0f-%.0f, windows of %d, %lld steps\n", path,
           year0 + WM_WINDOW, year0 + (double)n_train - 1, year0 + (double)n_train, year0 + (double)len - 1, WM_WINDOW,
           (long long)steps);
    /* A yardstick: predicting each year's value by the year before's. */
    double base_tr = wm_mse(raw + WM_WINDOW - 1, raw + WM_WINDOW, n_train - WM_WINDOW);
    double base_te = wm_mse(raw + n_train - 1, raw + n_train, len - n_train);
    printf("  %-20s train mse %8.1f (rmse %5.1f)  test mse %8.1f (rmse %5.1f)\n", "last year's value", base_tr,
           sqrt(base_tr), base_te, sqrt(base_te));
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        if ((rc = wm_train(&st, &m[k]))) break;
        /* Back to sunspot numbers, then the errors. */
        recur_norm_invert(&nm, m[k].pred_train, n_train - WM_WINDOW);
        recur_norm_invert(&nm, m[k].pred_test, len - n_train);
        double tr = wm_mse(m[k].pred_train, raw + WM_WINDOW, n_train - WM_WINDOW);
        double te = wm_mse(m[k].pred_test, raw + n_train, len - n_train);
        printf("  %-20s train mse %8.1f (rmse %5.1f)  test mse %8.1f (rmse %5.1f)  (%.1f s)\n", m[k].label, tr,
               sqrt(tr), te, sqrt(te), m[k].seconds);
    }
    if (!rc)
        rc = wm_mkdir(dir) ||
             wm_plots(dir, "sunspots", "Yearly sunspots", " (normalised units)", raw, len, n_train, year0, 1, "year", "sunspot number", m);
    wm_free(&m[0]);
    wm_free(&m[1]);
    free(raw);
    recur_series_free(s);
    recur_series_free(years);
    return rc;
}
