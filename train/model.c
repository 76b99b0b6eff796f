/*
 * train/model.c — instances of a model over inputs of other shapes,
 * sharing its parameters (recur/model.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "recur/model.h"
#include "recur/passes.h"

recur_status recur_model_instance(recur_graph *g, const recur_model *m, const char *prefix,
                                  const recur_shape *shapes, recur_value *inputs, recur_value *outputs)
{
    if (!g) return RECUR_ERR_ARG;
    if (!prefix) prefix = "";
    if (!m || !m->build || m->n_inputs < 0 || m->n_outputs < 1 || (m->n_inputs > 0 && (!m->input_names || !shapes)) ||
        (m->n_inputs > 0 && !inputs) || !outputs)
        return recur_set_error(g, RECUR_ERR_ARG, "model_instance \"%s\": needs a model with a builder, input names "
                               "and shapes, and room for its inputs and outputs", prefix);
    const int n0 = recur_graph_size(g);
    recur_status st = RECUR_OK;
    for (int i = 0; i < m->n_inputs && st == RECUR_OK; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, m->input_names[i] ? m->input_names[i] : "");
        if (recur_name_taken(g, name))
            st = recur_set_error(g, RECUR_ERR_ARG, "model_instance \"%s\": input \"%s\" exists already (another prefix?)",
                                 prefix, name);
        else if (!recur_ok(inputs[i] = recur_input(g, name, shapes[i])))
            st = recur_errcode(g);
    }
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = RECUR_NONE;
    if (st == RECUR_OK) st = m->build(g, m->user, inputs, outputs);
    for (int i = 0; i < m->n_outputs && st == RECUR_OK; i++)
        if (recur_value_check(g, outputs[i], "model_instance") != RECUR_OK) st = recur_errcode(g);
    if (st == RECUR_OK) st = recur_unroll(g);
    if (st != RECUR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", recur_errmsg(g));
        recur_graph_rollback(g, n0);
        for (int i = 0; i < m->n_inputs; i++) inputs[i] = RECUR_NONE;
        for (int i = 0; i < m->n_outputs; i++) outputs[i] = RECUR_NONE;
        return recur_set_error(g, st, "model_instance \"%s\": %s", prefix, msg);
    }
    return RECUR_OK;
}
