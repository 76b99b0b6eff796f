/*
 * draw/draw_equations.c — a cell's equations, written from its graph
 * (opts->equations): each loop's body read back as formulas, beside the
 * figure.
 *
 *   next state k       <name>' = <its value>     (h' = tanh(W_ih x + b_ih + W_hh h + b_hh))
 *   a gate             f = sigmoid(...)          (its letter, draw_gates.c)
 *   a named value      <name> = ...        (a name of several words by its initial: "forget gate" as f)
 *   a value read twice or more gets a line of its own and a name (a, b, ...);
 *   a value split into parts gets one line for all its parts:
 *                      [a1 a2 a3 a4] = W_ih x + b_ih + W_hh h + b_hh
 * Everything else is written inline. Weights print by their short names
 * ("lstm.weight_ih" as W_ih, "lstm.bias_hh" as b_hh), a product with a
 * weight as W x, an elementwise product as a (.) b, states by their names,
 * a step of a sequence as the sequence's name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "ops/op.h"

#define HADAMARD "\xe2\x8a\x99" /* (.) */
#define MINUS "\xe2\x88\x92"


typedef struct eqs {
    const draw_ctx *c;
    const recur_loop_rec *L;
    int li;
    char *name;     /* per body node: 1 + index into names, 0: inline */
    char names[64][24];
    int n_names;
    int *uses;      /* per body node: uses inside the body */
    char *out;      /* the HTML rows */
    size_t len, cap;
} eqs;

static void put(eqs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(eqs *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (e->len + (size_t)n + 1 > e->cap) {
        size_t cap = (e->cap ? 2 * e->cap : 1024) + (size_t)n;
        char *p = realloc(e->out, cap);
        if (!p) return;
        e->out = p, e->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(e->out + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    e->len += (size_t)n;
}

/* Text made safe for an HTML label. */
static void html(const char *in, char *out, size_t len)
{
    size_t j = 0;
    for (; *in && j + 6 < len; in++) {
        const char *r = *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : *in == '&' ? "&amp;" : NULL;
        if (r) j += (size_t)snprintf(out + j, len - j, "%s", r);
        else out[j++] = *in;
    }
    out[j] = '\0';
}

/* A weight's short name: the last part of its name, weight_ as W_ and bias_ as b_. */
static void weight_name(const char *full, char *buf, size_t len)
{
    const char *dot = strrchr(full, '.'), *s = dot ? dot + 1 : full;
    if (strncmp(s, "weight_", 7) == 0) snprintf(buf, len, "W_%s", s + 7);
    else if (strcmp(s, "weight") == 0) snprintf(buf, len, "W");
    else if (strncmp(s, "bias_", 5) == 0) snprintf(buf, len, "b_%s", s + 5);
    else if (strcmp(s, "bias") == 0) snprintf(buf, len, "b");
    else snprintf(buf, len, "%s", s);
}

static int in_body(const eqs *e, int32_t v) { return v >= e->L->first && v < e->L->last; }

/* Precedence of the formula written for v: 0 a sum, 1 a product, 2 an atom. */
static int precedence(const eqs *e, int32_t v)
{
    const recur_node *n = &e->c->g->nodes[v];
    if (in_body(e, v) && e->name[v - e->L->first]) return 2;
    if (n->op == RECUR_OP_ADD || n->op == RECUR_OP_SUB || n->op == RECUR_OP_ONE_MINUS) return 0;
    if (n->op == RECUR_OP_MUL || n->op == RECUR_OP_MATMUL || n->op == RECUR_OP_SCALE || n->op == RECUR_OP_NEG) return 1;
    return 2;
}

static void expr(eqs *e, int32_t v, char *buf, size_t len, int top);

/* Writes operand v of an operator that binds at least `need`, in parentheses if it binds less. */
static void operand(eqs *e, int32_t v, int need, char *buf, size_t len)
{
    if (precedence(e, v) >= need) {
        expr(e, v, buf, len, 0);
    } else {
        char inner[512];
        expr(e, v, inner, sizeof inner, 0);
        size_t n = strlen(inner);
        if (len < 3) return;
        if (n > len - 3) n = len - 3;
        buf[0] = '(';
        memcpy(buf + 1, inner, n);
        buf[n + 1] = ')';
        buf[n + 2] = '\0';
    }
}

static void expr(eqs *e, int32_t v, char *buf, size_t len, int top)
{
    const recur_graph *g = e->c->g;
    const recur_node *n = &g->nodes[v];
    char a[512] = "", b[512] = "";
    if (!top && in_body(e, v) && e->name[v - e->L->first]) {
        snprintf(buf, len, "%s", e->names[e->name[v - e->L->first] - 1]);
        return;
    }
    const char *user = recur_draw_user_name(g, v);
    switch (n->op) {
    case RECUR_OP_LOOP_STATE:
        snprintf(buf, len, "%s", user ? user : "s");
        return;
    case RECUR_OP_LOOP_STEP: {
        const char *seq = recur_draw_user_name(g, e->L->seq[n->attr.i[1]]);
        snprintf(buf, len, "%s", seq ? seq : "x");
        return;
    }
    case RECUR_OP_PARAM:
        weight_name(user ? user : "W", buf, len);
        return;
    case RECUR_OP_CONST:
    case RECUR_OP_FILL:
        if (n->op == RECUR_OP_FILL) snprintf(buf, len, "%g", (double)n->attr.f[0]);
        else snprintf(buf, len, "%s", user ? user : "const");
        return;
    default:
        break;
    }
    if (!in_body(e, v)) { /* a value from outside the loop */
        snprintf(buf, len, "%s", user ? user : recur_op(n->op)->name);
        return;
    }
    switch (n->op) {
    case RECUR_OP_ADD:
    case RECUR_OP_SUB:
        operand(e, n->in[0], 0, a, sizeof a);
        operand(e, n->in[1], n->op == RECUR_OP_SUB ? 1 : 0, b, sizeof b);
        snprintf(buf, len, "%s %s %s", a, n->op == RECUR_OP_ADD ? "+" : MINUS, b);
        return;
    case RECUR_OP_MUL:
        operand(e, n->in[0], 1, a, sizeof a);
        operand(e, n->in[1], 2, b, sizeof b);
        snprintf(buf, len, "%s %s %s", a, HADAMARD, b);
        return;
    case RECUR_OP_MATMUL: { /* x W^T as W x, the textbook's way */
        int w = g->nodes[n->in[1]].op == RECUR_OP_PARAM;
        operand(e, n->in[w ? 1 : 0], 2, a, sizeof a);
        operand(e, n->in[w ? 0 : 1], 2, b, sizeof b);
        snprintf(buf, len, "%s %s", a, b);
        return;
    }
    case RECUR_OP_ONE_MINUS:
        operand(e, n->in[0], 1, a, sizeof a);
        snprintf(buf, len, "1 %s %s", MINUS, a);
        return;
    case RECUR_OP_NEG:
        operand(e, n->in[0], 2, a, sizeof a);
        snprintf(buf, len, "%s%s", MINUS, a);
        return;
    case RECUR_OP_SCALE:
        operand(e, n->in[0], 2, a, sizeof a);
        snprintf(buf, len, "%g %s", (double)n->attr.f[0], a);
        return;
    case RECUR_OP_RESHAPE:
    case RECUR_OP_BROADCAST_TO:
    case RECUR_OP_STOP_GRADIENT:
    case RECUR_OP_ALIAS:
        expr(e, n->in[0], buf, len, 0);
        return;
    default:
        break;
    }
    /* A function of its operands: sigmoid(a), tanh(a), concat(a, b). */
    const char *f = n->op == RECUR_OP_SIGMOID ? "\xcf\x83" : recur_op(n->op)->name;
    size_t used = (size_t)snprintf(buf, len, "%s(", f);
    for (int k = 0; k < n->n_in && used < len; k++) {
        expr(e, n->in[k], a, sizeof a, 0);
        used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "", a);
    }
    if (used < len) snprintf(buf + used, len - used, ")");
}

/* 1 if v's uses inside the body are all slices of it along one axis (a split). */
static int split(const eqs *e, int32_t v, int32_t *parts, int *n_parts)
{
    const recur_graph *g = e->c->g;
    *n_parts = 0;
    for (int32_t u = v + 1; u < e->L->last; u++) {
        const recur_node *m = &g->nodes[u];
        if (m->removed) continue;
        for (int k = 0; k < m->n_in; k++) {
            if (m->in[k] != v) continue;
            if (m->op != RECUR_OP_SLICE || *n_parts >= 8) return 0;
            parts[(*n_parts)++] = u;
        }
    }
    return *n_parts >= 2;
}

/* 1 if a line already has the name. */
static int taken(const eqs *e, const char *name)
{
    for (int i = 0; i < e->n_names; i++)
        if (strcmp(e->names[i], name) == 0) return 1;
    return 0;
}

/* Gives v a name of its own (a line), preferring its user name or gate letter. */
static void name_node(eqs *e, int32_t v, const char *fallback)
{
    if (e->name[v - e->L->first] || e->n_names >= 64) return;
    char letter;
    const char *user = recur_draw_user_name(e->c->g, v);
    if (!user && recur_draw_gate(e->c, v, &letter)) snprintf(e->names[e->n_names], sizeof e->names[0], "%c", letter);
    else if (user && strchr(user, ' ')) snprintf(e->names[e->n_names], sizeof e->names[0], "%c", user[0]); /* "forget gate": f */
    else if (user) snprintf(e->names[e->n_names], sizeof e->names[0], "%s", user);
    else snprintf(e->names[e->n_names], sizeof e->names[0], "%s", fallback);
    /* Two names of one initial ("MLP of x", "MLP of h"): the initial and the last word (M_x, M_h), else a number. */
    char *mine = e->names[e->n_names];
    if (taken(e, mine) && user && strchr(user, ' ')) {
        for (int32_t u = e->L->first; u < e->L->last; u++) { /* the first of the two by its last word too */
            const char *theirs = e->name[u - e->L->first] ? recur_draw_user_name(e->c->g, u) : NULL;
            char *line = e->name[u - e->L->first] ? e->names[e->name[u - e->L->first] - 1] : NULL;
            if (theirs && strchr(theirs, ' ') && strcmp(line, mine) == 0)
                snprintf(line, sizeof e->names[0], "%c_%s", theirs[0], strrchr(theirs, ' ') + 1);
        }
        snprintf(mine, sizeof e->names[0], "%c_%s", user[0], strrchr(user, ' ') + 1);
    }
    char stem[sizeof e->names[0]];
    snprintf(stem, sizeof stem, "%s", mine);
    for (int k = 2; taken(e, mine) && k < 100; k++) snprintf(mine, sizeof e->names[0], "%.12s%d", stem, k);
    e->name[v - e->L->first] = (char)(++e->n_names);
}

static void loop_equations(eqs *e)
{
    const recur_graph *g = e->c->g;
    const recur_loop_rec *L = e->L;
    int n = L->last - L->first;
    /* Uses inside the body. */
    for (int32_t u = L->first; u < L->last; u++) {
        const recur_node *m = &g->nodes[u];
        if (m->removed) continue;
        for (int k = 0; k < m->n_in; k++)
            if (in_body(e, m->in[k])) e->uses[m->in[k] - L->first]++;
    }
    /* Which values get lines: next states last, gates, names, values read twice, splits. */
    int letter = 0;
    for (int32_t v = L->first; v < L->last; v++) {
        const recur_node *m = &g->nodes[v];
        if (m->removed || m->op == RECUR_OP_LOOP_STATE || m->op == RECUR_OP_LOOP_STEP || m->op == RECUR_OP_SLICE ||
            recur_op_has(m->op, RECUR_OPP_LEAF))
            continue;
        char l;
        int32_t parts[8];
        int n_parts;
        int is_next = -1;
        for (int k = 0; k < L->n_state; k++)
            if (L->next[k] == v) is_next = k;
        if (is_next >= 0) { /* h' */
            const char *sn = recur_draw_user_name(g, L->state[is_next]);
            char prime[24];
            snprintf(prime, sizeof prime, "%.20s'", sn ? sn : "s");
            if (e->n_names < 64 && !e->name[v - L->first]) {
                snprintf(e->names[e->n_names], sizeof e->names[0], "%s", prime);
                e->name[v - L->first] = (char)(++e->n_names);
            }
            continue;
        }
        if (recur_draw_gate(e->c, v, &l) || recur_draw_user_name(g, v) || e->uses[v - L->first] >= 2 ||
            split(e, v, parts, &n_parts)) {
            char fallback[8];
            snprintf(fallback, sizeof fallback, "%c", 'a' + letter % 26);
            if (!recur_draw_gate(e->c, v, &l) && !recur_draw_user_name(g, v)) letter++;
            name_node(e, v, fallback);
            if (split(e, v, parts, &n_parts)) { /* its parts: a1, a2, ... */
                char base[24];
                memcpy(base, e->names[e->name[v - L->first] - 1], sizeof base);
                base[sizeof base - 4] = '\0';
                for (int p = 0; p < n_parts && e->n_names < 64; p++) {
                    snprintf(e->names[e->n_names], sizeof e->names[0], "%s%d", base, p + 1);
                    e->name[parts[p] - L->first] = (char)(++e->n_names);
                }
            }
        }
    }
    /* The lines, in the body's order. */
    char rhs[1024], label[256];
    html(recur_draw_loop_label(e->c, e->li), label, sizeof label);
    put(e, "<TR><TD ALIGN=\"LEFT\"><B>%s</B></TD></TR>", label);
    for (int32_t v = L->first; v < L->last; v++) {
        if (!e->name[v - L->first] || g->nodes[v].op == RECUR_OP_SLICE) continue;
        int32_t parts[8];
        int n_parts;
        expr(e, v, rhs, sizeof rhs, 1);
        char safe[1024];
        html(rhs, safe, sizeof safe);
        if (split(e, v, parts, &n_parts)) {
            put(e, "<TR><TD ALIGN=\"LEFT\">[");
            for (int p = 0; p < n_parts; p++) {
                char part[64];
                html(e->names[e->name[parts[p] - L->first] - 1], part, sizeof part);
                put(e, "%s%s", p ? " " : "", part);
            }
            put(e, "] = %s</TD></TR>", safe);
        } else {
            char lhs[64];
            html(e->names[e->name[v - L->first] - 1], lhs, sizeof lhs);
            put(e, "<TR><TD ALIGN=\"LEFT\">%s = %s</TD></TR>", lhs, safe);
        }
    }
    (void)n;
}

void recur_draw_equations(draw_ctx *c, draw_scene *s)
{
    if (!c->o.equations) return;
    eqs e;
    memset(&e, 0, sizeof e);
    e.c = c;
    put(&e, "<TABLE BORDER=\"0\" CELLSPACING=\"1\" CELLPADDING=\"1\">");
    int any = 0;
    for (int li = 0; li < c->n_loops; li++) {
        const recur_loop_rec *L = &c->g->loops[li];
        if (!c->loops[li].used || L->last <= L->first) continue;
        int n = L->last - L->first;
        e.L = L, e.li = li, e.n_names = 0;
        e.name = calloc((size_t)n + 1, 1);
        e.uses = calloc((size_t)n + 1, sizeof *e.uses);
        if (!e.name || !e.uses) {
            free(e.name), free(e.uses);
            s->st = RECUR_ERR_NOMEM;
            break;
        }
        if (any) put(&e, "<TR><TD></TD></TR>");
        loop_equations(&e);
        any = 1;
        free(e.name), free(e.uses);
        e.name = NULL, e.uses = NULL;
    }
    put(&e, "</TABLE>");
    if (any && e.out && s->st == RECUR_OK) {
        int I = recur_draw_item_add(s, DRAW_NOTE, DRAW_NOTE_EQUATIONS, -1, e.out);
        if (I >= 0) {
            s->items[I].html = 1;
            s->items[I].layer = 0;
        }
    } else if (!e.out) {
        s->st = RECUR_ERR_NOMEM;
    }
    free(e.out);
}
