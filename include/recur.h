/*
 * recur.h — the umbrella header: includes every public header of recur.
 */
#ifndef RECUR_H
#define RECUR_H

#include "recur/common.h"
#include "recur/graph.h"
#include "recur/ops.h"
#include "recur/autodiff.h"
#include "recur/gradcheck.h"
#include "recur/exec.h"
#include "recur/loop.h"
#include "recur/passes.h"
#include "recur/layers.h"
#include "recur/draw.h"
#include "recur/seq2seq.h"
#include "recur/translate.h"
#include "recur/tbptt.h"
#include "recur/checkpoint.h"
#include "recur/onnx.h"
#include "recur/optim.h"
#include "recur/data.h"
#include "recur/model.h"
#include "recur/trainer.h"
#include "recur/mpi.h"
#include "recur/plot.h"

#endif
