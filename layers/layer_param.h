/*
 * layers/layer_param.h — helpers shared by the layer library (private).
 */
#ifndef RECUR_FRONTENDS_FRONTEND_H
#define RECUR_FRONTENDS_FRONTEND_H

#include "recur/layers.h"

/*
 * The parameter `name` of a layer: reused when g already has a parameter of
 * that name and shape (so a second graph part, say a generation model with
 * T = 1, shares the weights of the training part), created with `init`
 * otherwise. A node of that name that is not such a parameter is an error.
 */
recur_value recur_layer_param(recur_graph *g, const char *name, recur_shape shape, recur_init init);

#endif
