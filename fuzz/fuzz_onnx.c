/*
 * fuzz/fuzz_onnx.c — a libFuzzer target for the ONNX importer.
 *
 * Each input is imported from memory into a new graph. The importer must
 * never crash, hang, leak or read out of bounds (ASan, UBSan), and:
 *   - a refused input gives RECUR_ERR_FORMAT, RECUR_ERR_UNSUPPORTED,
 *     RECUR_ERR_ARG, RECUR_ERR_SHAPE, RECUR_ERR_VALUE, RECUR_ERR_STATE or
 *     RECUR_ERR_NOMEM with a message starting "onnx (memory): ", and leaves
 *     the graph as it was (empty), with an empty result;
 *   - an accepted input gives a graph that validates, whose outputs are live
 *     values, and that exports again (or is refused by the exporter cleanly).
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run: fuzz/run_fuzz.sh onnx (it generates the protobuf-c code from
 * Debian's onnx.proto and compiles the graph core, the op table, the layers
 * and onnx/ with clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur/layers.h"
#include "recur/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, recur_graph *g)
{
    if (ok) return;
    fprintf(stderr, "fuzz_onnx: broken property: %s (message: %s)\n", what, recur_errmsg(g));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recur_graph *g = recur_graph_new(1);
    if (!g) return 0;
    recur_onnx_dim dims[3] = {{"T", 3}, {"B", 2}, {"batch", 2}};
    recur_onnx_import_opts o = {.dims = dims, .n_dims = 3, .default_dim = 2};
    recur_onnx_model m;
    recur_status st = recur_onnx_import_mem(g, data, size, &o, &m);
    if (st != RECUR_OK) {
        check(st == RECUR_ERR_FORMAT || st == RECUR_ERR_UNSUPPORTED || st == RECUR_ERR_ARG || st == RECUR_ERR_SHAPE ||
                  st == RECUR_ERR_VALUE || st == RECUR_ERR_STATE || st == RECUR_ERR_NOMEM,
              "a refused input has a status of its kind", g);
        check(strncmp(recur_errmsg(g), "onnx (memory): ", 15) == 0 || st == RECUR_ERR_NOMEM,
              "the message names the source", g);
        check(recur_graph_size(g) == 0 && recur_loop_count(g) == 0, "a refused input leaves the graph as it was", g);
        check(m.n_inputs == 0 && m.n_outputs == 0 && m.n_meta == 0, "a refused input gives an empty result", g);
        recur_graph_free(g);
        return 0;
    }
    check(recur_graph_validate(g) == RECUR_OK, "an imported graph validates", g);
    recur_value outs[RECUR_ONNX_MAX_IO];
    for (int i = 0; i < m.n_outputs; i++) {
        check(recur_value_check(g, m.outputs[i].value, "fuzz") == RECUR_OK, "every output is a live value", g);
        outs[i] = m.outputs[i].value;
    }
    void *bytes = NULL;
    size_t len = 0;
    st = recur_onnx_export_mem(g, m.n_outputs, outs, NULL, &bytes, &len);
    check(st == RECUR_OK || st == RECUR_ERR_UNSUPPORTED || st == RECUR_ERR_ARG || st == RECUR_ERR_VALUE,
          "an imported graph exports, or is refused cleanly", g);
    free(bytes);
    recur_onnx_model_clear(&m);
    recur_graph_free(g);
    return 0;
}
