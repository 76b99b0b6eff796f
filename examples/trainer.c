/*
 * examples/trainer.c — training with the trainer (recur/trainer.h): a
 * character-level GRU language model of generated sentences, fed batch by batch
 * from a character corpus (recur/data.h) by the trainer's feed callback,
 * evaluated on held-out text every 50 steps through an inference plan of
 * its own, and saved to a checkpoint. A second trainer, on a graph built
 * anew as another process would, loads the checkpoint and goes on: its
 * losses are those of the first trainer going on uninterrupted.
 *
 * Usage: trainer [checkpoint]   (default trainer.ckpt in the current directory)
 */
#include <stdio.h>

#include "recur.h"

enum { T = 24, B = 16, E = 16, H = 64, MAX_TEST = 64 };

/*
 * The text: 200 sentences drawn (with a fixed seed) from a small grammar,
 * "the cat follows a red ball. my sister finds the river. ...". The last
 * tenth is held out: new sentences of the same grammar.
 */
static size_t make_text(char *buf, size_t cap)
{
    static const char *const subject[] = {"the cat", "a dog", "my sister", "the old man", "our teacher", "a bird"};
    static const char *const verb[] = {"sees", "likes", "follows", "draws", "finds"};
    static const char *const object[] = {"the moon", "a red ball", "the river", "her friend", "a small house",
                                         "the garden"};
    uint64_t seed = 11;
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        int pick[3];
        for (int k = 0; k < 3; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            pick[k] = (int)((seed >> 33) % 30);
        }
        len += (size_t)snprintf(buf + len, cap - len, "%s %s %s. ", subject[pick[0] % 6], verb[pick[1] % 5],
                                object[pick[2] % 6]);
    }
    return len;
}

/* One training session: a graph, its trainer and what the callbacks need. */
typedef struct session {
    recur_graph *g;
    recur_trainer *t;
    const recur_corpus *train;
    int64_t *order;                /* the training windows in a shuffled order */
    int64_t n_windows;
    recur_value ids, next;         /* training inputs [T, B] */
    recur_plan *eval;              /* the held-out loss, inference only */
    recur_value test_loss;
    float x[T * B], y[T * B];
} session;

/* The model over ids [T, n]: embedding, GRU, dense to the V symbols; the mean cross-entropy against next. */
static recur_value lm_loss(recur_graph *g, recur_value ids, recur_value next, int64_t V)
{
    recur_rnn gru;
    recur_rnn_opts o = {.kind = RECUR_GRU, .input_size = E, .hidden = H};
    if (recur_rnn_new(g, "gru", &o, recur_embedding(g, "emb", ids, V, E), RECUR_NONE, RECUR_NONE, &gru) != RECUR_OK)
        return RECUR_NONE;
    return recur_softmax_xent(g, recur_dense(g, "out", gru.outputs, V, 1), next, RECUR_NONE);
}

/* Feeds batch `step`: chosen from `step` alone, so a resumed run feeds what an uninterrupted one would. */
static recur_status feed(void *user, int64_t step, recur_plan *plan)
{
    session *s = user;
    int64_t windows[B];
    for (int b = 0; b < B; b++) windows[b] = s->order[(step * B + b) % s->n_windows];
    if (recur_corpus_batch(s->train, T, 1, windows, B, s->x, s->y, NULL) != RECUR_OK)
        return recur_trainer_set_error(s->t, recur_data_errcode(), "%s", recur_data_errmsg());
    recur_status st = recur_plan_feed(plan, s->ids, s->x, T * B);
    return st != RECUR_OK ? st : recur_plan_feed(plan, s->next, s->y, T * B);
}

/* Evaluates: the loss on the held-out windows (the inference plan's inputs were fed once). */
static recur_status eval(void *user, recur_trainer *t, int64_t step, double *loss)
{
    session *s = user;
    float l;
    (void)step;
    if (recur_plan_run(s->eval) != RECUR_OK || recur_plan_fetch(s->eval, s->test_loss, &l, 1) != RECUR_OK)
        return recur_trainer_set_error(t, recur_plan_errcode(s->eval), "evaluation: %s", recur_plan_errmsg(s->eval));
    *loss = l;
    return RECUR_OK;
}

/*
 * Builds the model for training (batches of B windows) and for evaluation
 * (the same layers under the same names, so the same weights, over the
 * held-out text cut into windows), unrolls it and makes the trainer. 0, or 1 after
 * printing why.
 */
static int session_new(session *s, const recur_corpus *train, const recur_corpus *test, int64_t *order)
{
    const int64_t V = recur_corpus_vocab_size(train), n_test = recur_corpus_window_count(test, T, T);
    if (n_test < 1 || n_test > MAX_TEST) return fprintf(stderr, "%lld held-out windows\n", (long long)n_test), 1;
    *s = (session){.train = train, .order = order, .n_windows = recur_corpus_window_count(train, T, 1)};
    s->g = recur_graph_new(1);
    if (!s->g) return fprintf(stderr, "out of memory\n"), 1;
    s->ids = recur_input(s->g, "ids", recur_shape2(T, B));
    s->next = recur_input(s->g, "next", recur_shape2(T, B));
    recur_value loss = lm_loss(s->g, s->ids, s->next, V);
    recur_value test_ids = recur_input(s->g, "test_ids", recur_shape2(T, n_test));
    recur_value test_next = recur_input(s->g, "test_next", recur_shape2(T, n_test));
    s->test_loss = lm_loss(s->g, test_ids, test_next, V);
    if (!recur_ok(s->test_loss) || recur_unroll(s->g) != RECUR_OK)
        return fprintf(stderr, "building: %s\n", recur_errmsg(s->g)), 1;

    recur_value params[8];
    int n = recur_params(s->g, params, 8);
    recur_trainer_opts o = recur_trainer_defaults(); /* Adam */
    o.optim.lr = 3e-3;
    o.optim.max_grad_norm = 5;
    o.feed = feed;
    o.eval = eval;
    o.eval_every = 50;
    o.user = s;
    o.progress = RECUR_PROGRESS_PLAIN;
    o.progress_file = stdout;
    o.progress_every = 50;
    o.steps_per_epoch = s->n_windows / B;
    o.tokens_per_step = T * B;
    s->t = recur_trainer_new(s->g, loss, n, params, &o);
    s->eval = recur_compile(s->g, 1, &s->test_loss, &(recur_compile_opts){.inference = 1});
    if (!s->t || !s->eval) return fprintf(stderr, "making the trainer: %s\n", recur_errmsg(s->g)), 1;

    /* The held-out text as windows of T side by side, fed once. */
    int64_t windows[MAX_TEST];
    float tx[T * MAX_TEST], ty[T * MAX_TEST];
    for (int64_t w = 0; w < n_test; w++) windows[w] = w;
    if (recur_corpus_batch(test, T, T, windows, n_test, tx, ty, NULL) != RECUR_OK)
        return fprintf(stderr, "held-out data: %s\n", recur_data_errmsg()), 1;
    if (recur_plan_feed(s->eval, test_ids, tx, T * n_test) != RECUR_OK ||
        recur_plan_feed(s->eval, test_next, ty, T * n_test) != RECUR_OK)
        return fprintf(stderr, "held-out data: %s\n", recur_plan_errmsg(s->eval)), 1;
    return 0;
}

static void session_free(session *s)
{
    recur_plan_free(s->eval);
    recur_trainer_free(s->t);
    recur_graph_free(s->g);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "trainer.ckpt";
    static char text[8192];
    recur_corpus *all = recur_corpus_from_text(text, make_text(text, sizeof text)), *train = NULL, *test = NULL;
    if (!all || recur_corpus_split(all, recur_corpus_len(all) * 9 / 10, &train, &test) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_data_errmsg()), 1;
    int64_t order[8192], n_windows = recur_corpus_window_count(train, T, 1);
    if (n_windows > 8192 || recur_permutation(order, n_windows, 7) != RECUR_OK) return fprintf(stderr, "too much text\n"), 1;
    printf("%lld symbols, %lld distinct; %lld training windows of %d\n", (long long)recur_corpus_len(all),
           (long long)recur_corpus_vocab_size(all), (long long)n_windows, T);

    /* Train 150 steps and save; then 50 more. */
    session a, b;
    if (session_new(&a, train, test, order)) return 1;
    if (recur_trainer_run(a.t, 150) != RECUR_OK || recur_trainer_save(a.t, path) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_trainer_errmsg(a.t)), 1;
    printf("saved %s after step %lld\n", path, (long long)recur_trainer_step(a.t));
    if (recur_trainer_run(a.t, 50) != RECUR_OK) return fprintf(stderr, "%s\n", recur_trainer_errmsg(a.t)), 1;

    /* A new graph and trainer, as another process would make them, resume from the checkpoint. */
    if (session_new(&b, train, test, order)) return 1;
    if (recur_trainer_load(b.t, path) != RECUR_OK || recur_trainer_run(b.t, 50) != RECUR_OK)
        return fprintf(stderr, "%s\n", recur_trainer_errmsg(b.t)), 1;
    printf("step %lld: loss %.6f uninterrupted, %.6f resumed from %s\n", (long long)recur_trainer_step(b.t),
           (double)recur_trainer_loss(a.t), (double)recur_trainer_loss(b.t), path);
    int same = recur_trainer_loss(a.t) == recur_trainer_loss(b.t);
    session_free(&b);
    session_free(&a);
    recur_corpus_free(train);
    recur_corpus_free(test);
    recur_corpus_free(all);
    return same ? 0 : 1;
}
