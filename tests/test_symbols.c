/*
 * tests/test_symbols.c — a user program that defines functions named as
 * recur's internals were once named (draw_connect, draw_time, ...) links
 * with recur, statically and dynamically, and recur keeps calling its own
 * code: only recur_* names leave the library. Built twice by meson (against
 * librecur.a and librecur.so); scripts/check_exports.py checks the symbol
 * tables themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "recur.h"

static int user_calls;

/* The user's own functions, with names recur's drawing code once exported. */
int draw_connect(void *a, void *b) { (void)a, (void)b; return ++user_calls; }
int draw_time(int t) { return t + ++user_calls; }
int draw_rolled(void) { return ++user_calls; }
int draw_unrolled(void) { return ++user_calls; }
void draw_scene_free(void *s) { (void)s; ++user_calls; }
int draw_op_label(void) { return ++user_calls; }
int draw_analyse(void) { return ++user_calls; }

static void test_library_calls_its_own_code(void **state)
{
    (void)state;
    recur_graph *g = recur_graph_new(1);
    recur_value xs = recur_input(g, "xs", recur_shape3(3, 2, 4));
    recur_rnn_opts o = {.kind = RECUR_LSTM, .input_size = 4, .hidden = 5};
    recur_rnn r;
    assert_int_equal(recur_rnn_new(g, "lstm", &o, xs, RECUR_NONE, RECUR_NONE, &r), RECUR_OK);
    recur_value loss = recur_sum(g, r.outputs);
    /* Drawing (whose internals had those names) works and never calls the user's functions. */
    char *dot = NULL;
    size_t len = 0;
    recur_draw_opts d = {0};
    assert_int_equal(recur_draw_mem(g, 1, &loss, &d, "dot", &dot, &len), RECUR_OK);
    assert_true(len > 100);
    recur_draw_free(dot);
    d.view = RECUR_VIEW_UNROLLED;
    assert_int_equal(recur_draw_mem(g, 1, &loss, &d, "dot", &dot, &len), RECUR_OK);
    recur_draw_free(dot);
    assert_int_equal(user_calls, 0);
    /* And computing still works. */
    assert_int_equal(recur_unroll(g), RECUR_OK);
    recur_plan *p = recur_compile(g, 1, &loss, NULL);
    assert_non_null(p);
    float x[3 * 2 * 4] = {0};
    assert_int_equal(recur_plan_feed(p, xs, x, 24), RECUR_OK);
    assert_int_equal(recur_plan_run(p), RECUR_OK);
    recur_plan_free(p);
    recur_graph_free(g);
    /* The user's functions are the ones the program calls by those names. */
    assert_int_equal(draw_connect(NULL, NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_library_calls_its_own_code)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
