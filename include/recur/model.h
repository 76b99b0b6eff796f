/*
 * recur/model.h — one model, many shapes: the same layers built again over
 * inputs of other shapes (another batch size, another sequence length),
 * sharing their parameters.
 *
 * A model is a function that builds it over given inputs. Layers find their
 * parameters by name (recur/layers.h: a parameter whose name the graph
 * holds already is reused), so each instance the function builds reads and
 * trains the same weights: train over [T, B] batches, evaluate over a
 * larger batch, generate over one step.
 *
 *   static recur_status build(recur_graph *g, void *user, const recur_value *in, recur_value *out)
 *   {
 *       recur_rnn r;
 *       recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 8, .hidden = 32};
 *       recur_status st = recur_rnn_new(g, "lstm", &o, in[0], RECUR_NONE, RECUR_NONE, &r);
 *       out[0] = recur_mse(g, recur_dense(g, "head", r.outputs, 1, 1), in[1]);   // the loss
 *       return st;
 *   }
 *   const char *names[] = {"x", "y"};
 *   recur_model m = {.build = build, .n_inputs = 2, .n_outputs = 1, .input_names = names};
 *   recur_model_instance(g, &m, "train.", (recur_shape[]){recur_shape3(40, 32, 8), recur_shape3(40, 32, 1)}, in, out);
 *   recur_model_instance(g, &m, "eval.", (recur_shape[]){recur_shape3(100, 500, 8), recur_shape3(100, 500, 1)}, ein, eout);
 *
 * The trainer evaluates on such an instance itself (recur_trainer_opts.eval_model).
 */
#ifndef RECUR_MODEL_H
#define RECUR_MODEL_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Builds a model over `inputs` (values of g) into `outputs`; returns RECUR_OK or the graph's error. */
typedef recur_status (*recur_model_build_fn)(recur_graph *g, void *user, const recur_value *inputs, recur_value *outputs);

/** A model: its builder, the names of its inputs, and how many outputs it makes. */
typedef struct recur_model {
    recur_model_build_fn build;
    void *user;                    /**< passed to build */
    int n_inputs, n_outputs;
    const char *const *input_names;/**< n_inputs names; an instance's inputs are "<prefix><name>" */
} recur_model;

/**
 * Builds one instance of model m in g: creates its inputs "<prefix><name>"
 * of the given shapes, calls m->build, and unrolls the loops it made (so
 * the instance can be compiled at once). Instances share every parameter
 * the builder finds by name. RECUR_OK, or an error recorded on g naming the
 * instance (a taken input name, a shape the layers refuse), and then the
 * graph is as it was.
 */
RECUR_API recur_status recur_model_instance(recur_graph *g, const recur_model *m, const char *prefix,
                                            const recur_shape *shapes, recur_value *inputs, recur_value *outputs);

#ifdef __cplusplus
}
#endif
#endif
