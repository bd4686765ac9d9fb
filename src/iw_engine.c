/* iw_engine: compile the Sigma rule model into matchers, evaluate events.
 *
 * Model.  Every rule item compiles to boolean *predicates* (bits).  A
 * predicate is set during the scan phase of an event by any of its
 * *matchers*: a Vectorscan pattern in the per-field database, a PCRE2 regex
 * (confirming a Vectorscan prefilter hit, or run on every event when no
 * prefilter compiles), a CIDR prefix in the per-field radix tree, or a
 * direct check (numbers, null/exists, fieldref, time parts).  An item is an
 * OR of rows, each row an AND of terms (predicate, possibly negated for
 * |neq); items of a group AND, groups of a selection OR, and the condition
 * tree combines selections.
 *
 * Per event: each field with patterns is scanned once (one hs_scan for all
 * rules; exact values through a hash table and short literal sets by plain
 * comparison, because a Vectorscan call costs 50-100 ns even on 3 bytes),
 * CIDR fields are looked up once, direct checks run; then only
 * *candidate* rules are evaluated: rules one of whose trigger predicates
 * fired, plus rules whose condition can hold with no predicate set (computed
 * at compile time).  Bits are cleared through a touched list, candidates
 * deduplicated with a generation counter: nothing proportional to the rule
 * count is done per event, and nothing is allocated.
 *
 * Only trigger predicates are scanned for.  A predicate that triggers no
 * rule and is made of plain literals and direct checks is *lazy*: computed
 * when a candidate first reads it (see lazyent_t), so common values of
 * |all items and AND groups (`200`, `POST`, `/images/`) cost nothing on
 * the events where their rule is not a candidate.  Patterns with an inner
 * `*` are scanned as their longest literal and confirmed by PCRE2
 * (star_split).  Both keep results and evidence identical. */
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <strings.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "iw_engine.h"
#include "iw_plain.h"
#include "iw_match_wild.h"
#include "iw_match_radix.h"
#include "iw_hscache.h"
#include "iw_scache.h"

#define MAX_SLOTS 4
#define MAX_COND_DEPTH 200
#define MAX_EXPAND 2000000L      /* values one |expand value may produce */
#define MAX_WINDASH 3125         /* permutations before an encoding */
#define NTYPES 2                 /* event types: access, error */
#define EVC_ENTRIES(sc) ((sc) / 8 < 16 ? 16u : (sc) / 8)   /* event cache size */
#define ALL_TYPES ((unsigned)(IW_EV_ACCESS | IW_EV_ERROR))

/* PCRE2 limits, per run of one regex on one value (docs/MODULE.md,
 * "Regex limits").  Past them the regex is not evaluated: the rules that
 * read it report an evaluation error (iw_engine_eval_errors) instead of a
 * silent "no match".
 * - JIT stack: per thread (scratch), 1 MiB; a regex that keeps a
 *   backtracking frame per byte ('^q=(a|b)*x') needs ~20 bytes of it per
 *   subject byte, so ~40,000 bytes of subject fit (PCRE2's default, 32 KiB
 *   on the machine stack, ran out at 2,000).  Reserved address space;
 *   pages are used only as deep as a match goes.
 * - past the JIT stack, the same regex runs again in the interpreter,
 *   whose backtracking frames come from the heap: at most RX_HEAP_LIMIT
 *   KiB (8 MiB, ~100,000 bytes of such a subject), freed after the run;
 *   RX_DEPTH_LIMIT bounds its nesting the same way.
 * - match limit: 1,000,000 backtracking steps (PCRE2's default is 10
 *   million): a few milliseconds of CPU per run at worst (an exponential
 *   regex such as '(a|aa)+\1$' reaches it at ~35 characters). */
#define RX_JIT_STACK_START (32 * 1024)
#define RX_JIT_STACK_MAX (1024 * 1024)
#define RX_MATCH_LIMIT 1000000u
#define RX_DEPTH_LIMIT 1000000u
#define RX_HEAP_LIMIT (8 * 1024u)      /* KiB */

/* ---- compiled representation ------------------------------------------- */

typedef struct range { int32_t first, n; } range_t;

enum { N_SEL = 1, N_AND, N_OR, N_NOT };
typedef struct cnode { int32_t type, a, n; } cnode_t;  /* kids: e->kids[a..a+n) */

typedef struct citem { range_t rows; int32_t field; } citem_t;

typedef struct crule {
    const iw_rule_t *rule;
    int32_t root;            /* cnode index */
    range_t filters;         /* into e->filt (crule indices) */
    unsigned applies;        /* event types */
} crule_t;

/* direct checks */
enum { D_PRESENT = 1, D_ABSENT, D_NULL, D_EMPTY, D_NUM, D_TIME, D_FIELDREF, D_LONG };
enum { OP_EQ = 1, OP_LT, OP_LTE, OP_GT, OP_GTE };
enum { T_MINUTE = 1, T_HOUR, T_DAY, T_WEEK, T_MONTH, T_YEAR };
enum { FR_EQ = 0, FR_CONTAINS, FR_STARTS, FR_ENDS };
enum { LL_VALUE = 0, LL_FIRST, LL_ANY };   /* D_LONG: of the value, its first line, any line */

typedef struct dcheck {
    int32_t kind, op, field, field2, unit, mode, cased;
    int64_t num;
    int32_t pred;
    unsigned types;
} dcheck_t;

typedef struct rxcheck {
    pcre2_code *code;
    int jit;
    int32_t pred;
} rxcheck_t;

typedef struct rxalways { int32_t rx, field; unsigned types; } rxalways_t;

/* A pure literal of a small pattern set, matched by comparison instead of
 * a Vectorscan call (which costs ~50-100 ns even on 3 bytes). */
typedef struct litpat {
    const unsigned char *b;        /* lower-cased when caseless */
    uint32_t len;
    uint8_t open_s, open_e, caseless;
    int32_t id;                    /* pattern id (actions) */
} litpat_t;

#define LIT_MAX_CONTAINS 16       /* contains literals checked by comparison */
#define LIT_MAX_CONTAINS_LEN 64    /* ... in values up to this length */
#define LIT_MAX_AFFIX 64           /* startswith/endswith literals compared */

/* Exact values (equality without wildcards): open addressing over a hash
 * of the (lower-cased) bytes; one probe sequence per field and event. */
typedef struct exent { uint64_t h; const unsigned char *b; uint32_t len; int32_t id; } exent_t;
typedef struct extab {
    exent_t *t;
    uint32_t mask, maxlen;
    uint64_t lens[4];              /* bit l: some value has length l (< 256) */
    int n, long_values;            /* long_values: some length >= 256 */
} extab_t;

/* Merged scan (access events): _raw holds every header, so when _raw is
 * scanned anyway (keyword rules) the substring literals of cs-user-agent
 * and cs-referer are scanned inside it with the keywords, each match
 * checked against where that field lies in _raw (its "segment"): one
 * Vectorscan call fewer per header field, ~10% of the evaluation with the
 * SigmaHQ set.  cs-uri is not merged: its literals are many and short, and
 * without SINGLEMATCH (a literal may first occur outside its segment)
 * their repeated reports across all of _raw cost more than they save. */
#define NMERGE 2
static const int merge_fields[NMERGE] = { IW_F_CS_USER_AGENT, IW_F_CS_REFERER };

typedef struct confent { int32_t pat, field, len, slot; } confent_t;

/* Lazy predicates.  A predicate that triggers no rule (a value of an |all
 * item, a non-trigger item of an AND group, a filter, a |neq term) and
 * whose matchers are all plain literals or direct checks on one field is
 * not scanned for: it is computed (lit_match, direct) the first time a
 * candidate rule reads it in an event.  Common values like `200` or `/images/` then cost
 * nothing on events where no rule needing them is a candidate. */
typedef struct lazyent {
    litpat_t l;
    int32_t field;
    int32_t dc;                    /* >= 0: direct check e->ldc[dc] instead */
} lazyent_t;
typedef struct segment { size_t off, len; int ok; } segment_t;

/* Matchers of one field for one event type. */
typedef struct fieldm {
    hs_database_t *rest;           /* merged field: what _raw does not cover */
    int merged;                    /* 1: use rest when the segment is found */
    hs_database_t *db;             /* what is not below; may be NULL */
    unsigned db_minw, rest_minw;   /* shortest match of any pattern of db / rest */
    range_t lits;                  /* affix literals, + contains ones if small */
    int small;                     /* contains literals are in lits too */
    extab_t ex[2];                 /* [0] caseless, [1] cased */
    /* values of plain bytes only (iw_plain.h): PLAIN_DB scans plain,
     * PLAIN_NONE needs no scan, PLAIN_OFF uses db as any value */
    int plain_mode;
    hs_database_t *plain;
    unsigned plain_minw;
} fieldm_t;

enum { PLAIN_OFF, PLAIN_DB, PLAIN_NONE };

/* One field of a request's cache key (request_key): where its value is
 * in an iw_request_desc_t and how event_key writes it for the event built
 * from that description. */
enum { RK_STR, RK_INT, RK_I64, RK_NULL,    /* RK_INT keyed when > 0, RK_I64 when >= 0 */
       RK_DERIVED };                         /* not from one member: no request key */
typedef struct rkey_item { uint16_t off; uint8_t kind, later; } rkey_item_t;  /* later: IW_RD_* */

struct iw_engine {
    apr_pool_t *pool;
    iw_ruleset_t *rs;
    int nrules;                    /* compiled detection rules */
    crule_t *rules; int ncrules;   /* detection rules first, then filters */
    cnode_t *nodes; int32_t *kids;
    range_t *sels;                 /* groups of each selection */
    range_t *groups;               /* items of each group */
    citem_t *items;
    range_t *rows;                 /* terms of each row */
    int32_t *terms;                /* pred << 1 | negated */
    int32_t *filt;
    int npreds;
    /* per event type and field: Vectorscan database, literal lists, exact
     * value tables */
    fieldm_t fm[NTYPES][IW_F__COUNT];
    int32_t scan_fields[NTYPES][IW_F__COUNT]; int nscan[NTYPES];
    int ndbs;
    litpat_t *lits;
    confent_t *conf; int nconf;    /* merged literals: HS id npatterns + k */
    int merge;                     /* merged scan compiled */
    int32_t *pat_act_first;        /* per pattern id, CSR into acts (n+1) */
    int32_t *acts;                 /* >= 0 pred, < 0: regex check -1-a */
    hs_scratch_t *proto;
    rxcheck_t *rx; int nrx;
    apr_array_header_t *codes;     /* pcre2_code*: every compiled regex */
    rxalways_t *rxall; int nrxall;
    dcheck_t *dc; int ndc;
    iw_radix_t *radix[IW_F__COUNT];
    unsigned radix_types[IW_F__COUNT];
    int32_t radix_fields[IW_F__COUNT]; int nradix;   /* fields with a tree */
    /* candidate pruning */
    int32_t *trig_first;           /* per pred, CSR into trig_rules (n+1) */
    int32_t *trig_rules;
    int32_t *always; int nalways;
    int npatterns;
    /* lazy predicates: computed only when a candidate reads them */
    uint64_t *lazy;                /* bit per pred */
    int32_t *lz_first;             /* per pred, CSR into lz (n+1) */
    lazyent_t *lz; int nlazy;
    dcheck_t *ldc; int nldc;       /* direct checks of lazy predicates */
    unsigned sc_entries;           /* scan-result cache per scratch; 0 = off */
    /* event cache key: the base fields every matcher reads (lazy views
     * replaced by what they are computed from), per event type */
    uint64_t evk_fields[NTYPES];
    int evk_hdrs[NTYPES];          /* the header list too */
    int evk_time;                  /* time-part checks: the minute too */
    int evk_secs[NTYPES];          /* date/time read: the second too */
    uint64_t evk_req;              /* access fields for events built from a request */
    int evk_req_desc;              /* ... all copied as they are from the description */
    rkey_item_t rkey[IW_F__COUNT]; /* ... then where each is in the description */
    int nrkey;
    unsigned rkey_later;           /* IW_RD_* members the request key reads */
    /* evaluation errors: which detection rules read each predicate (CSR,
     * through their filters too), and each pattern's field */
    int32_t *rd_first, *rd_rules;
    int8_t *pat_field;
    int nrs;                       /* rules in the ruleset (rule->index bound) */
};

struct iw_scratch {
    /* first: all a clean repeated request reads (iw_engine_eval_request) */
    const iw_engine_t *e;
    iw_scache_t *evc;              /* hits of recent whole events; NULL = off */
    unsigned char *kbuf;           /* event key being built */
    iw_hit_t *hits;
    uint64_t nevents, ncandidates;
    hs_scratch_t *hs;
    pcre2_match_data *md;
    uint64_t *bits;
    uint8_t *pfield;               /* field that set each predicate */
    int32_t *touched; int ntouched;
    uint32_t *rgen; uint32_t gen;
    uint32_t *pgen;                /* lazy pred computed in event gen */
    int32_t *cand; int ncand;
    /* per event */
    iw_event_t *ev;
    int tm_ok;
    struct tm tm;
    iw_scache_t *sc;               /* scan results of recent values; NULL = off */
    /* evaluation errors (cold) */
    pcre2_match_context *mctx;     /* limits + this thread's JIT stack */
    pcre2_jit_stack *jstack;
    int32_t *errp; int *errp_code; uint8_t *errp_field; int nerrp;   /* this event */
    uint32_t *errgen;              /* pred already in errp in event gen */
    uint32_t *rerrgen;             /* crule already reported in event gen */
    iw_eval_error_t *errs; int nerrs;
    uint64_t *rule_errs;           /* per rule->index, since creation */
    uint64_t nrx_errors, nscan_errors, neval_errors, nerr_held;
    struct { uint64_t key; int64_t minute; } lim[256];   /* iw_scratch_eval_error_due */
};

/* ---- build state (compile time only) ------------------------------------ */

typedef struct pat {
    const char *expr;
    unsigned flags;
    int32_t field;
    unsigned types;
    int32_t act_head;              /* into b->acts (linked) */
    int dead;
    int conf;                      /* also scanned inside _raw (merged) */
    int lazy;                      /* serves lazy predicates only: not scanned */
    const unsigned char *lb; size_t ll;  /* pure literal (lb != NULL) */
    int open_s, open_e;
    const iw_rule_t *rule; int line, col;
} pat_t;

typedef struct act { int32_t value, next; } act_t;

typedef struct build {
    apr_pool_t *p, *tp;            /* engine pool, temp pool */
    iw_engine_t *e;
    iw_diag_t *diag;
    iw_ruleset_t *rs;
    apr_array_header_t *crules, *nodes, *kids, *sels, *groups, *items, *rows,
        *terms, *filt, *pats, *acts, *rx, *rxall, *dc, *predw, *always, *lits, *conf,
        *pnl;                      /* char per pred: 1 = cannot be lazy */
    apr_hash_t *pat_by_key, *pred_by_sig;
    /* current rule / item for messages and masks */
    const iw_rule_t *rule;
    unsigned types;
    int vline, vcol;               /* item being bound (pattern origin) */
    int errors;
    const iw_hscache_t *hsc;       /* compiled databases from earlier runs */
} build_t;

/* A matcher before it is bound to a field and a predicate. */
enum { M_HS = 1, M_RE, M_CIDR, M_DIRECT };
typedef struct mdesc {
    int kind;
    const char *expr; unsigned flags; size_t lit;   /* M_HS; M_RE: prefilter */
    int open_s, open_e;                              /* M_HS: unanchored sides */
    int split;                                       /* M_RE from star_split */
    const unsigned char *lb; size_t ll; int plain;   /* M_HS: pure literal */
    pcre2_code *code; int jit;                       /* M_RE */
    int32_t rx_pred, rx_idx;                         /* M_RE: check reuse */
    uint8_t addr[16]; int plen;                      /* M_CIDR */
    dcheck_t d;                                      /* M_DIRECT */
    const char *sig;
    double w;                                        /* fire probability */
} mdesc_t;

static void berr(build_t *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void berr(build_t *b, int line, int col, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = apr_pvsprintf(b->tp, fmt, ap);
    va_end(ap);
    iw_diag_add(b->diag, IW_DIAG_ERROR, b->rule ? b->rule->file : NULL, line,
                col, b->rule ? b->rule->id : NULL, "%s", text);
    b->errors++;
}

/* ---- predicates ----------------------------------------------------------- */

static int32_t pred_new(build_t *b, double w)
{
    APR_ARRAY_PUSH(b->predw, double) = w > 1.0 ? 1.0 : w;
    APR_ARRAY_PUSH(b->pnl, char) = 0;
    return (int32_t)(b->predw->nelts - 1);
}

/* Fields whose values are few (methods, statuses): a literal there fires
 * on a large share of events. */
static int low_entropy_field(int f)
{
    switch (f) {
    case IW_F_CS_METHOD: case IW_F_SC_STATUS: case IW_F_CS_VERSION:
    case IW_F_S_PORT: case IW_F_LEVEL: case IW_F_MODULE: case IW_F_S_SITENAME:
    case IW_F_CS_HOST: case IW_F_S_IP:
        return 1;
    default:
        return 0;
    }
}

static double hs_weight(size_t lit, int field)
{
    double w = 0.9;
    size_t i;
    if (low_entropy_field(field)) return 0.5;
    for (i = 0; i < lit && i < 20; i++) w *= 0.5;
    return w;
}

/* ---- value -> matchers ---------------------------------------------------- */

/* All combinations: parts are text (isph 0) or value lists (isph 1). */
static void expand_product(apr_pool_t *p, apr_array_header_t *parts,
                           apr_array_header_t *isph, long total,
                           apr_array_header_t *out)
{
    long c;
    int k;
    for (c = 0; c < total; c++) {
        long sel = c;
        char *acc = "";
        for (k = parts->nelts - 1; k >= 0; k--) {
            const char *piece;
            if (APR_ARRAY_IDX(isph, k, int)) {
                apr_array_header_t *vals = APR_ARRAY_IDX(parts, k, apr_array_header_t *);
                piece = APR_ARRAY_IDX(vals, sel % vals->nelts, const char *);
                sel /= vals->nelts;
            } else {
                piece = APR_ARRAY_IDX(parts, k, const char *);
            }
            acc = apr_pstrcat(p, piece, acc, NULL);
        }
        APR_ARRAY_PUSH(out, char *) = acc;
    }
}

/* Split a |expand value at unescaped %name% placeholders and produce the
 * cartesian product of the placeholder lists (text between placeholders
 * kept verbatim, "\%" -> "%").  Returns NULL (diag added) on error. */
static apr_array_header_t *expand_value(build_t *b, const iw_value_t *v)
{
    apr_array_header_t *out = apr_array_make(b->tp, 1, sizeof(char *));
    apr_array_header_t *parts = apr_array_make(b->tp, 4, sizeof(void *));
    apr_array_header_t *isph = apr_array_make(b->tp, 4, sizeof(int));
    const char *s = v->s.p ? v->s.p : "";
    size_t len = v->s.len, i = 0;
    char *lit = apr_palloc(b->tp, len + 1);
    size_t nl = 0;
    long total = 1;

    while (i < len) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%') {
            lit[nl++] = '%';
            i += 2;
        } else if (s[i] == '%') {
            const char *end = memchr(s + i + 1, '%', len - i - 1);
            apr_array_header_t *vals;
            char *name;
            if (!end || end == s + i + 1) { lit[nl++] = s[i++]; continue; }
            name = apr_pstrmemdup(b->tp, s + i + 1, (size_t)(end - s - i - 1));
            vals = b->rs->placeholders
                 ? apr_hash_get(b->rs->placeholders, name, APR_HASH_KEY_STRING)
                 : NULL;
            if (!vals) {
                berr(b, v->line, v->col, "unknown placeholder %%%s%% (|expand)", name);
                return NULL;
            }
            if (nl) {
                APR_ARRAY_PUSH(parts, void *) = apr_pstrmemdup(b->tp, lit, nl);
                APR_ARRAY_PUSH(isph, int) = 0;
                lit = apr_palloc(b->tp, len + 1);
                nl = 0;
            }
            APR_ARRAY_PUSH(parts, void *) = vals;
            APR_ARRAY_PUSH(isph, int) = 1;
            if (!vals->nelts)
                iw_diag_add(b->diag, IW_DIAG_WARNING, b->rule ? b->rule->file : NULL, v->line,
                            v->col, b->rule ? b->rule->id : NULL,
                            "placeholder %%%s%% has no values: this value matches nothing", name);
            total *= vals->nelts;
            if (total > MAX_EXPAND || total == 0) {
                if (total) berr(b, v->line, v->col, "|expand yields more than %ld values", MAX_EXPAND);
                return total ? NULL : out;
            }
            i = (size_t)(end - s) + 1;
        } else {
            lit[nl++] = s[i++];
        }
    }
    if (nl || !parts->nelts) {
        APR_ARRAY_PUSH(parts, void *) = apr_pstrmemdup(b->tp, lit, nl);
        APR_ARRAY_PUSH(isph, int) = 0;
    }
    expand_product(b->tp, parts, isph, total, out);
    return out;
}

static mdesc_t *md_push(apr_array_header_t *ms)
{
    mdesc_t *m = apr_array_push(ms);
    memset(m, 0, sizeof(*m));
    m->rx_pred = -1;
    return m;
}

static void md_direct(build_t *b, apr_array_header_t *ms, dcheck_t d, double w)
{
    mdesc_t *m = md_push(ms);
    m->kind = M_DIRECT;
    m->d = d;
    m->w = w;
    m->sig = apr_psprintf(b->tp, "d%d,%d,%d,%d,%d,%d,%" APR_INT64_T_FMT,
                          d.kind, d.op, d.field2, d.unit, d.mode, d.cased, d.num);
}

static int numeric_value(const iw_value_t *v, int64_t *out)
{
    char *end;
    if (v->type == IW_VAL_NUMBER) { *out = v->num; return 1; }
    if (v->type != IW_VAL_STRING || !v->s.p || !v->s.len || v->s.len > 30) return 0;
    char tmp[32];
    memcpy(tmp, v->s.p, v->s.len);
    tmp[v->s.len] = '\0';
    *out = strtoll(tmp, &end, 10);
    return *end == '\0';
}

static int cmp_op(unsigned mods)
{
    return mods & IW_MOD_LT ? OP_LT : mods & IW_MOD_LTE ? OP_LTE
         : mods & IW_MOD_GT ? OP_GT : mods & IW_MOD_GTE ? OP_GTE : OP_EQ;
}

static int time_unit(unsigned mods)
{
    return mods & IW_MOD_MINUTE ? T_MINUTE : mods & IW_MOD_HOUR ? T_HOUR
         : mods & IW_MOD_DAY ? T_DAY : mods & IW_MOD_WEEK ? T_WEEK
         : mods & IW_MOD_MONTH ? T_MONTH : mods & IW_MOD_YEAR ? T_YEAR : 0;
}

/* Anchoring and, for wildcard-free patterns, the literal bytes: small
 * literal sets are matched without Vectorscan (see lit_scan). */
static void literal_info(build_t *b, mdesc_t *m, const iw_pat_t *pt, int open_s, int open_e)
{
    size_t a = 0, z = pt->n, i;
    unsigned char *lb;

    while (a < z && pt->k[a] == IW_U_STAR) { a++; open_s = 1; }
    while (z > a && pt->k[z - 1] == IW_U_STAR) { z--; open_e = 1; }
    m->open_s = open_s;
    m->open_e = open_e;
    for (i = a; i < z; i++)
        if (pt->k[i] != IW_U_LIT) return;
    lb = apr_palloc(b->p, z - a + 1);
    for (i = a; i < z; i++)
        lb[i - a] = (m->flags & HS_FLAG_CASELESS) && pt->b[i] >= 'A' && pt->b[i] <= 'Z'
                  ? (unsigned char)(pt->b[i] + 32) : pt->b[i];
    m->lb = lb;
    m->ll = z - a;
    m->plain = 1;
}

/* A pattern with an inner `*` (a.*b): Vectorscan scans only for its
 * longest literal run and PCRE2 confirms the whole expression on a hit
 * (M_RE); `.*` in a database costs every event more than the rare
 * confirmation.  Returns 0 (matcher left as is) when the run is short. */
#define STAR_SPLIT_MIN_RUN 4
static int star_split(build_t *b, mdesc_t *m, const iw_pat_t *pt)
{
    size_t a = 0, z = pt->n, i, run = 0, best = 0, end = 0, k;
    int inner = 0, err;
    uint32_t opts = 0;
    PCRE2_SIZE off;
    pcre2_code *code;
    char *lit;

    while (a < z && pt->k[a] == IW_U_STAR) a++;
    while (z > a && pt->k[z - 1] == IW_U_STAR) z--;
    for (i = a; i < z; i++) {
        if (pt->k[i] == IW_U_STAR) inner = 1;
        run = pt->k[i] == IW_U_LIT ? run + 1 : 0;
        if (run > best) { best = run; end = i + 1; }
    }
    if (!inner || best < STAR_SPLIT_MIN_RUN) return 0;
    if (m->flags & HS_FLAG_CASELESS) opts |= PCRE2_CASELESS;
    if (m->flags & HS_FLAG_DOTALL) opts |= PCRE2_DOTALL;
    code = pcre2_compile((PCRE2_SPTR)m->expr, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!code) return 0;                   /* keep the Vectorscan pattern */
    APR_ARRAY_PUSH(b->e->codes, pcre2_code *) = code;
    lit = apr_palloc(b->tp, best * 4 + 1);
    for (i = end - best, k = 0; i < end; i++, k += 4)
        snprintf(lit + k, 5, "\\x%02x", pt->b[i]);
    m->kind = M_RE;
    m->split = 1;
    m->code = code;
    m->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    m->expr = lit;
    m->flags = (m->flags & (HS_FLAG_CASELESS | HS_FLAG_DOTALL)) | HS_FLAG_SINGLEMATCH;
    m->plain = 0;
    m->lb = NULL;
    return 1;
}

/* One pattern (after encodings) as a Vectorscan matcher or direct check. */
static void pat_matcher(build_t *b, apr_array_header_t *ms, const iw_pat_t *pt,
                        int open_start, int open_end, unsigned hsflags, int field)
{
    int kind;
    size_t lit;
    const char *expr = iw_pat_to_hs(b->tp, pt, open_start, open_end, &kind, &lit);
    mdesc_t *m;

    if (kind != IW_PAT_EXPR) {
        dcheck_t d = { .kind = kind == IW_PAT_PRESENT ? D_PRESENT : D_EMPTY };
        md_direct(b, ms, d, kind == IW_PAT_PRESENT ? 1.0 : 0.3);
        return;
    }
    m = md_push(ms);
    m->kind = M_HS;
    m->expr = expr;
    m->flags = hsflags;
    m->lit = lit;
    m->w = hs_weight(lit, field);
    literal_info(b, m, pt, open_start, open_end);
    m->sig = apr_psprintf(b->tp, "h%x:%s", hsflags, expr);
    star_split(b, m, pt);
}

/* A string value (already expanded) through windash / utf16 / base64 and
 * contains/startswith/endswith into matchers. */
static int string_matchers(build_t *b, apr_array_header_t *ms, const char *s,
                           size_t len, unsigned mods, int field,
                           const iw_value_t *v)
{
    int enc = (mods & (IW_MOD_UTF16LE | IW_MOD_UTF16BE | IW_MOD_UTF16
                       | IW_MOD_BASE64 | IW_MOD_BASE64OFFSET)) != 0;
    int b64 = (mods & (IW_MOD_BASE64 | IW_MOD_BASE64OFFSET)) != 0;
    int open_s = (mods & (IW_MOD_CONTAINS | IW_MOD_ENDSWITH)) != 0;
    int open_e = (mods & (IW_MOD_CONTAINS | IW_MOD_STARTSWITH)) != 0;
    unsigned hsflags = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
    iw_pat_t *pt = iw_pat_parse(b->tp, s, len, 1);
    apr_array_header_t *pats = apr_array_make(b->tp, 1, sizeof(iw_pat_t *));
    int i;

    /* base64 text is case-significant: matching it caselessly would only
     * add false positives */
    if (!(mods & IW_MOD_CASED) && !b64) hsflags |= HS_FLAG_CASELESS;
    if (mods & IW_MOD_WINDASH) {
        if (enc) {
            apr_array_header_t *perm = iw_pat_windash_expand(b->tp, pt, MAX_WINDASH);
            if (!perm) {
                berr(b, v->line, v->col, "|windash with an encoding yields more than %d values",
                     MAX_WINDASH);
                return -1;
            }
            pats = perm;
        } else {
            APR_ARRAY_PUSH(pats, iw_pat_t *) = iw_pat_windash(b->tp, pt);
        }
    } else {
        APR_ARRAY_PUSH(pats, iw_pat_t *) = pt;
    }
    for (i = 0; i < pats->nelts; i++) {
        iw_pat_t *q = APR_ARRAY_IDX(pats, i, iw_pat_t *);
        if (mods & (IW_MOD_UTF16LE | IW_MOD_UTF16BE | IW_MOD_UTF16))
            q = iw_pat_utf16(b->tp, q, mods & IW_MOD_UTF16BE ? 1
                                      : mods & IW_MOD_UTF16 ? 2 : 0);
        if (b64 && !iw_pat_is_literal(q)) {
            berr(b, v->line, v->col, "wildcards cannot be combined with |base64/|base64offset"
                 " (escape them as \\* \\?)");
            return -1;
        }
        if (mods & IW_MOD_BASE64OFFSET) {
            iw_pat_t *o[3];
            int k;
            iw_pat_base64offset(b->tp, q, o);
            for (k = 0; k < 3; k++)
                if (o[k]) pat_matcher(b, ms, o[k], 1, 1, hsflags, field);
        } else {
            if (mods & IW_MOD_BASE64) q = iw_pat_base64(b->tp, q);
            pat_matcher(b, ms, q, open_s, open_e, hsflags, field);
        }
    }
    return 0;
}

/* A length test written as a regex: ^.{N} or ^[^\n]{N} (also with ",}").
 * Vectorscan runs a bounded repeat of N states over every value (^[^\n]{8192}
 * on the header block was half of the pack's header scan), while the
 * answer is a length: "some line of at least N bytes".  Byte semantics as
 * PCRE2 compiles them here (no UTF): "." is any byte but the newline (LF,
 * checked), with s any byte at all; ^ is the value's start, with m also
 * after every LF.  Returns 1 and fills n and mode when re is such a test. */
static int long_line_regex(const char *re, unsigned mods, int64_t *n, int32_t *mode)
{
    uint32_t nl = 0;
    const char *p;
    char *end;
    long v;

    if (!strncmp(re, "^.{", 3)) {
        p = re + 3;
        *mode = (mods & IW_MOD_RE_S) ? LL_VALUE : (mods & IW_MOD_RE_M) ? LL_ANY : LL_FIRST;
    } else if (!strncmp(re, "^[^\\n]{", 7)) {
        p = re + 7;
        *mode = (mods & IW_MOD_RE_M) ? LL_ANY : LL_FIRST;
    } else {
        return 0;
    }
    if (*p < '1' || *p > '9') return 0;
    v = strtol(p, &end, 10);
    if (v < 1 || v > 65535) return 0;
    if (end[0] == ',') end++;
    if (strcmp(end, "}")) return 0;
    if (pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) < 0 || nl != PCRE2_NEWLINE_LF) return 0;
    *n = v;
    return 1;
}

/* Does v have a line (mode) of at least n bytes? */
static int long_line(iw_str_t v, int64_t n, int32_t mode)
{
    const char *p = v.p, *end, *nl;

    /* an absent field has no pointer: no arithmetic on it (NULL + 0 is
     * undefined, clang's UBSan reports it) */
    if (!v.p || (int64_t)v.len < n) return 0;
    if (mode == LL_VALUE) return 1;
    end = v.p + v.len;
    for (;;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if ((nl ? nl : end) - p >= n) return 1;
        if (!nl || mode == LL_FIRST || end - (nl + 1) < n) return 0;
        p = nl + 1;
    }
}

static int regex_matcher(build_t *b, apr_array_header_t *ms, const char *re,
                         unsigned mods, const iw_value_t *v)
{
    uint32_t opts = 0;
    unsigned hsflags = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH;
    int err;
    PCRE2_SIZE off;
    pcre2_code *code;
    mdesc_t *m;

    if (mods & IW_MOD_RE_I) { opts |= PCRE2_CASELESS; hsflags |= HS_FLAG_CASELESS; }
    if (mods & IW_MOD_RE_M) { opts |= PCRE2_MULTILINE; hsflags |= HS_FLAG_MULTILINE; }
    if (mods & IW_MOD_RE_S) { opts |= PCRE2_DOTALL; hsflags |= HS_FLAG_DOTALL; }
    {
        dcheck_t d = { .kind = D_LONG };
        if (long_line_regex(re, mods, &d.num, &d.mode)) {
            md_direct(b, ms, d, 0.5);
            return 0;
        }
    }
    code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        berr(b, v->line, v->col, "bad regular expression at offset %lu: %s",
             (unsigned long)off, (const char *)msg);
        return -1;
    }
    APR_ARRAY_PUSH(b->e->codes, pcre2_code *) = code;
    m = md_push(ms);
    m->kind = M_RE;
    m->code = code;
    m->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    m->expr = re;
    m->flags = hsflags;
    m->w = 0.05;
    m->sig = apr_psprintf(b->tp, "r%x:%s", opts, re);
    return 0;
}

static int cidr_matcher(build_t *b, apr_array_header_t *ms, const char *s,
                        const iw_value_t *v)
{
    mdesc_t *m = md_push(ms);
    m->kind = M_CIDR;
    if (!iw_cidr_parse(s, strlen(s), m->addr, &m->plen)) {
        berr(b, v->line, v->col, "bad CIDR value '%s'", s);
        ms->nelts--;
        return -1;
    }
    m->w = 0.05;
    m->sig = "";  /* the item signature lists the prefixes itself */
    return 0;
}

/* All matchers one YAML value stands for (expansions are alternatives). */
static int value_matchers(build_t *b, apr_array_header_t *ms, const iw_item_t *it,
                          unsigned mods, const iw_value_t *v, int field)
{
    int64_t num;
    apr_array_header_t *strs;
    int i, rc = 0;

    if (mods & IW_MOD_EXISTS) {
        int want = v->type == IW_VAL_BOOL ? v->boolean
                 : v->s.p && (!strcasecmp(v->s.p, "true") || !strcmp(v->s.p, "yes"));
        dcheck_t d = { .kind = want ? D_PRESENT : D_ABSENT };
        md_direct(b, ms, d, want ? 1.0 : 0.5);
        return 0;
    }
    if (v->type == IW_VAL_NULL) {
        dcheck_t d = { .kind = D_NULL };
        md_direct(b, ms, d, 0.5);
        return 0;
    }
    if (mods & IW_MOD_FIELDREF) {
        char *name = apr_pstrmemdup(b->tp, v->s.p ? v->s.p : "", v->s.len);
        int f2 = iw_field_lookup(name);
        dcheck_t d = { .kind = D_FIELDREF, .field2 = f2 >= 0 ? f2 : it->fieldref,
                       .cased = (mods & IW_MOD_CASED) != 0,
                       .mode = mods & IW_MOD_CONTAINS ? FR_CONTAINS
                             : mods & IW_MOD_STARTSWITH ? FR_STARTS
                             : mods & IW_MOD_ENDSWITH ? FR_ENDS : FR_EQ };
        if (d.field2 < 0 || d.field2 >= IW_F__COUNT) {
            berr(b, v->line, v->col, "|fieldref: unknown field '%s'", name);
            return -1;
        }
        md_direct(b, ms, d, 0.5);
        return 0;
    }
    if (time_unit(mods) || (mods & (IW_MOD_LT | IW_MOD_LTE | IW_MOD_GT | IW_MOD_GTE))) {
        dcheck_t d = { .kind = time_unit(mods) ? D_TIME : D_NUM,
                       .unit = time_unit(mods), .op = cmp_op(mods) };
        if (!numeric_value(v, &num)) {
            berr(b, v->line, v->col, "a number is needed with this modifier");
            return -1;
        }
        d.num = num;
        md_direct(b, ms, d, d.op == OP_EQ ? 0.3 : 0.5);
        return 0;
    }
    if (v->type == IW_VAL_NUMBER && iw_field_is_numeric(field)
        && !(mods & (IW_MOD_CONTAINS | IW_MOD_STARTSWITH | IW_MOD_ENDSWITH | IW_MOD_RE
                     | IW_MOD_CIDR | IW_MOD_BASE64 | IW_MOD_BASE64OFFSET))) {
        dcheck_t d = { .kind = D_NUM, .op = OP_EQ, .num = v->num };
        md_direct(b, ms, d, 0.3);
        return 0;
    }
    if (mods & IW_MOD_EXPAND) {
        if (!(strs = expand_value(b, v))) return -1;
    } else {
        strs = apr_array_make(b->tp, 1, sizeof(char *));
        APR_ARRAY_PUSH(strs, char *) = v->s.p
            ? apr_pstrmemdup(b->tp, v->s.p, v->s.len)
            : (char *)(v->type == IW_VAL_BOOL ? (v->boolean ? "true" : "false") : "");
    }
    for (i = 0; i < strs->nelts && rc == 0; i++) {
        const char *s = APR_ARRAY_IDX(strs, i, const char *);
        if (mods & IW_MOD_RE) rc = regex_matcher(b, ms, s, mods, v);
        else if (mods & IW_MOD_CIDR) rc = cidr_matcher(b, ms, s, v);
        else rc = string_matchers(b, ms, s, strlen(s), mods, field, v);
    }
    return rc;
}

/* ---- binding matchers to fields and predicates -------------------------- */

static int32_t pat_get(build_t *b, const mdesc_t *m, int field)
{
    const char *key = apr_psprintf(b->tp, "%d/%x/%s", field, m->flags, m->expr);
    void *v = apr_hash_get(b->pat_by_key, key, APR_HASH_KEY_STRING);
    pat_t *pt;

    if (v) {
        pt = &APR_ARRAY_IDX(b->pats, (intptr_t)v - 1, pat_t);
        pt->types |= b->types;
        return (int32_t)((intptr_t)v - 1);
    }
    pt = apr_array_push(b->pats);
    memset(pt, 0, sizeof(*pt));
    pt->expr = apr_pstrdup(b->p, m->expr);
    pt->flags = m->flags;
    pt->field = field;
    pt->types = b->types;
    pt->act_head = -1;
    pt->rule = b->rule;
    pt->line = b->vline;
    pt->col = b->vcol;
    if (m->kind == M_HS && m->plain) {
        pt->lb = m->lb;
        pt->ll = m->ll;
        pt->open_s = m->open_s;
        pt->open_e = m->open_e;
    }
    apr_hash_set(b->pat_by_key, key, APR_HASH_KEY_STRING, (void *)(intptr_t)b->pats->nelts);
    return (int32_t)(b->pats->nelts - 1);
}

static void pat_add_action(build_t *b, int32_t pi, int32_t value)
{
    pat_t *pt = &APR_ARRAY_IDX(b->pats, pi, pat_t);
    act_t *a;
    if (pt->act_head >= 0 && APR_ARRAY_IDX(b->acts, pt->act_head, act_t).value == value)
        return;
    a = apr_array_push(b->acts);
    a->value = value;
    a->next = pt->act_head;
    pt->act_head = (int32_t)(b->acts->nelts - 1);
}

static int emit(build_t *b, mdesc_t *m, int field, int32_t pred)
{
    if ((m->kind != M_HS || !m->plain || !m->ll) && m->kind != M_DIRECT)
        APR_ARRAY_IDX(b->pnl, pred, char) = 1;
    switch (m->kind) {
    case M_HS:
        pat_add_action(b, pat_get(b, m, field), pred);
        return 0;
    case M_RE: {
        rxcheck_t *rx;
        if (m->rx_pred != pred) {
            rx = apr_array_push(b->rx);
            rx->code = m->code;
            rx->jit = m->jit;
            rx->pred = pred;
            m->rx_pred = pred;
            m->rx_idx = (int32_t)(b->rx->nelts - 1);
        }
        pat_add_action(b, pat_get(b, m, field), -1 - m->rx_idx);
        return 0;
    }
    case M_CIDR:
        if (!b->e->radix[field] && !(b->e->radix[field] = iw_radix_create())) return -1;
        b->e->radix_types[field] |= b->types;
        return iw_radix_insert(b->e->radix[field], m->addr, m->plen, pred);
    default: {
        dcheck_t *d = apr_array_push(b->dc);
        *d = m->d;
        d->field = field;
        d->pred = pred;
        d->types = b->types;
        return 0;
    }
    }
}

static const char *cidr_sig(build_t *b, const mdesc_t *m)
{
    static const char hex[] = "0123456789abcdef";
    char *s = apr_palloc(b->tp, 40);
    int i;
    s[0] = 'c';
    for (i = 0; i < 16; i++) {
        s[1 + 2 * i] = hex[m->addr[i] >> 4];
        s[2 + 2 * i] = hex[m->addr[i] & 15];
    }
    snprintf(s + 33, 7, "/%d", m->plen);
    return s;
}

/* Predicate set by the given matchers on the given fields: shared with any
 * earlier item that had exactly the same matchers. */
static int32_t pred_for(build_t *b, apr_array_header_t *ms, const int *fields,
                        int nfields)
{
    apr_array_header_t *sigparts = apr_array_make(b->tp, ms->nelts * nfields + 1, sizeof(char *));
    const char *sig;
    void *found;
    double w = 0;
    int i, k;
    int32_t pred;

    for (k = 0; k < nfields; k++) {
        APR_ARRAY_PUSH(sigparts, const char *) = apr_psprintf(b->tp, "@%d", fields[k]);
        for (i = 0; i < ms->nelts; i++) {
            mdesc_t *m = &APR_ARRAY_IDX(ms, i, mdesc_t);
            if (m->kind == M_CIDR)
                APR_ARRAY_PUSH(sigparts, const char *) = cidr_sig(b, m);
            else
                APR_ARRAY_PUSH(sigparts, const char *) = m->sig;
        }
    }
    sig = apr_array_pstrcat(b->tp, sigparts, '\x1f');
    /* types matter: a shared predicate must be computed for every type of
     * every rule using it */
    found = apr_hash_get(b->pred_by_sig, sig, APR_HASH_KEY_STRING);
    if (found && (((intptr_t)found) & 3) == (intptr_t)b->types)
        return (int32_t)(((intptr_t)found) >> 2);
    for (i = 0; i < ms->nelts; i++) w += APR_ARRAY_IDX(ms, i, mdesc_t).w;
    pred = pred_new(b, w * nfields);
    for (k = 0; k < nfields; k++)
        for (i = 0; i < ms->nelts; i++)
            if (emit(b, &APR_ARRAY_IDX(ms, i, mdesc_t), fields[k], pred) < 0) {
                berr(b, 0, 0, "out of memory");
                return pred;
            }
    apr_hash_set(b->pred_by_sig, sig, APR_HASH_KEY_STRING,
                 (void *)(((intptr_t)pred << 2) | (intptr_t)b->types));
    return pred;
}

/* ---- items, groups, selections ------------------------------------------ */

static void row_push(build_t *b, const int32_t *terms, int n)
{
    range_t *r = apr_array_push(b->rows);
    int i;
    r->first = b->terms->nelts;
    r->n = n;
    for (i = 0; i < n; i++) APR_ARRAY_PUSH(b->terms, int32_t) = terms[i];
}

/* Every matcher is a substring test (a Vectorscan pattern open on both
 * sides) or "present": matching the full target (cs-uri) then equals
 * matching any of its parts. */
static int all_unanchored(apr_array_header_t **vms, int nv)
{
    int i, k;
    for (i = 0; i < nv; i++)
        for (k = 0; k < vms[i]->nelts; k++) {
            const mdesc_t *m = &APR_ARRAY_IDX(vms[i], k, mdesc_t);
            if (m->kind == M_DIRECT && m->d.kind == D_PRESENT) continue;
            if ((m->kind != M_HS && !m->split) || !m->open_s || !m->open_e) return 0;
        }
    return 1;
}

/* The fields an item is matched on (iw_field_slots).  Slots are about
 * where a text is found: existence, null, numbers, time and field
 * references concern the named field itself.  Substring items on a
 * slotted field need only cs-uri, which holds the stem and the query. */
static int item_fields(const iw_item_t *it, int field, unsigned mods,
                       apr_array_header_t **vms, int nv, int *fields)
{
    iw_field_id_t slots[MAX_SLOTS];
    int n = iw_field_slots((iw_field_id_t)field, slots, MAX_SLOTS), i;

    if (mods & (IW_MOD_EXISTS | IW_MOD_FIELDREF | IW_MOD_LT | IW_MOD_LTE | IW_MOD_GT
                | IW_MOD_GTE | IW_MOD_MINUTE | IW_MOD_HOUR | IW_MOD_DAY | IW_MOD_WEEK
                | IW_MOD_MONTH | IW_MOD_YEAR))
        n = 1;
    for (i = 0; i < nv; i++)
        if (APR_ARRAY_IDX(it->values, i, iw_value_t).type == IW_VAL_NULL) n = 1;
    if (n > 1 && all_unanchored(vms, nv))
        for (i = 0; i < n; i++)
            if (slots[i] == IW_F_CS_URI) { slots[0] = IW_F_CS_URI; n = 1; break; }
    for (i = 0; i < n; i++) fields[i] = slots[i];
    return n;
}

static int compile_item(build_t *b, const iw_item_t *it)
{
    int field = it->field < 0 ? IW_F_RAW : it->field;
    unsigned mods = it->mods;
    int fields[MAX_SLOTS], nslots, neg, all, i, k, nv;
    apr_array_header_t **vms;
    citem_t *ci;

    if (it->field < 0 && it->field_name) {
        berr(b, it->line, it->col, "unknown field '%s'", it->field_name);
        return -1;
    }
    if (field >= IW_F__COUNT) {
        berr(b, it->line, it->col, "bad field id %d", field);
        return -1;
    }
    if (it->field < 0) mods |= IW_MOD_CONTAINS;   /* keywords: full-text */
    nv = it->values ? it->values->nelts : 0;
    if (!nv) {
        berr(b, it->line, it->col, "item without values");
        return -1;
    }
    neg = (mods & IW_MOD_NEQ) != 0;
    all = (mods & IW_MOD_ALL) && nv > 1;
    vms = apr_pcalloc(b->tp, sizeof(*vms) * (size_t)nv);
    for (i = 0; i < nv; i++) {
        vms[i] = apr_array_make(b->tp, 2, sizeof(mdesc_t));
        if (value_matchers(b, vms[i], it, mods, &APR_ARRAY_IDX(it->values, i, iw_value_t), field) < 0)
            return -1;
    }
    nslots = item_fields(it, field, mods, vms, nv, fields);
    b->vline = it->line;
    b->vcol = it->col;
    ci = apr_array_push(b->items);
    ci->field = field;
    ci->rows.first = b->rows->nelts;
    if (!all && !neg) {
        /* one predicate for the whole item: any value on any slot */
        apr_array_header_t *ms = apr_array_make(b->tp, nv, sizeof(mdesc_t));
        int32_t t;
        for (i = 0; i < nv; i++) apr_array_cat(ms, vms[i]);
        t = pred_for(b, ms, fields, nslots) << 1;
        row_push(b, &t, 1);
    } else if (neg) {
        /* |neq: the value is found in none of the slots; values OR (AND
         * with |all) */
        int32_t *terms = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nv);
        for (i = 0; i < nv; i++) {
            terms[i] = pred_for(b, vms[i], fields, nslots) << 1 | 1;
            if (!all) row_push(b, &terms[i], 1);
        }
        if (all) row_push(b, terms, nv);
    } else {
        /* |all: every value on the same slot */
        int32_t *terms = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nv);
        for (k = 0; k < nslots; k++) {
            for (i = 0; i < nv; i++) {
                terms[i] = pred_for(b, vms[i], &fields[k], 1) << 1;
            }
            row_push(b, terms, nv);
        }
    }
    ci = &APR_ARRAY_IDX(b->items, b->items->nelts - 1, citem_t);
    ci->rows.n = b->rows->nelts - ci->rows.first;
    return 0;
}

/* compile_item pushes exactly one citem per item compiled, so the items of
 * a group are contiguous in b->items. */
static int compile_selection(build_t *b, const iw_selection_t *sel)
{
    int g, i, first_group, errs = b->errors;
    apr_array_header_t *granges = apr_array_make(b->tp, 4, sizeof(range_t));
    range_t *sr;

    if (!sel->groups || !sel->groups->nelts) {
        berr(b, sel->line, sel->col, "selection '%s' is empty", sel->name ? sel->name : "?");
        return -1;
    }
    /* compile every item (appends to b->items), remember ranges */
    for (g = 0; g < sel->groups->nelts; g++) {
        const iw_group_t *gr = &APR_ARRAY_IDX(sel->groups, g, iw_group_t);
        range_t *r = apr_array_push(granges);
        r->first = b->items->nelts;
        r->n = 0;
        for (i = 0; gr->items && i < gr->items->nelts; i++)
            if (compile_item(b, &APR_ARRAY_IDX(gr->items, i, iw_item_t)) == 0)
                r->n++;   /* on error keep going: report every bad item */
    }
    if (b->errors != errs) return -1;
    first_group = b->groups->nelts;
    for (g = 0; g < granges->nelts; g++)
        APR_ARRAY_PUSH(b->groups, range_t) = APR_ARRAY_IDX(granges, g, range_t);
    sr = apr_array_push(b->sels);
    sr->first = first_group;
    sr->n = granges->nelts;
    return 0;
}

/* ---- conditions ----------------------------------------------------------- */

static int32_t compile_cond(build_t *b, const iw_cond_t *c, const int32_t *selmap,
                            int nsel, int depth)
{
    cnode_t node;
    int32_t *kidv, idx;
    int i, nk;

    if (!c || depth > MAX_COND_DEPTH) {
        berr(b, b->rule ? b->rule->line : 0, 0, c ? "condition nested too deeply"
                                                  : "missing condition");
        return -1;
    }
    memset(&node, 0, sizeof(node));
    switch (c->type) {
    case IW_COND_SEL:
        if (c->sel < 0 || c->sel >= nsel || selmap[c->sel] < 0) {
            berr(b, b->rule ? b->rule->line : 0, 0, "condition refers to a bad selection");
            return -1;
        }
        node.type = N_SEL;
        node.a = selmap[c->sel];
        break;
    case IW_COND_AND: case IW_COND_OR: case IW_COND_NOT:
        nk = c->type == IW_COND_NOT ? 1 : c->nkids;
        if (nk < 1 || !c->kids) {
            berr(b, b->rule ? b->rule->line : 0, 0, "empty condition operator");
            return -1;
        }
        kidv = apr_palloc(b->tp, sizeof(int32_t) * (size_t)nk);
        for (i = 0; i < nk; i++)
            if ((kidv[i] = compile_cond(b, c->kids[i], selmap, nsel, depth + 1)) < 0)
                return -1;
        node.type = c->type == IW_COND_AND ? N_AND : c->type == IW_COND_OR ? N_OR : N_NOT;
        node.a = b->kids->nelts;
        node.n = nk;
        for (i = 0; i < nk; i++) APR_ARRAY_PUSH(b->kids, int32_t) = kidv[i];
        break;
    default:
        berr(b, b->rule ? b->rule->line : 0, 0, "bad condition node");
        return -1;
    }
    idx = b->nodes->nelts;
    APR_ARRAY_PUSH(b->nodes, cnode_t) = node;
    return idx;
}

static void mark_used(const iw_cond_t *c, char *used, int nsel, int depth)
{
    int i;
    if (!c || depth > MAX_COND_DEPTH) return;
    if (c->type == IW_COND_SEL) {
        if (c->sel >= 0 && c->sel < nsel) used[c->sel] = 1;
        return;
    }
    for (i = 0; c->kids && i < (c->type == IW_COND_NOT ? 1 : c->nkids); i++)
        mark_used(c->kids[i], used, nsel, depth + 1);
}

/* Compile one detection or filter rule; returns its crule index or -1. */
static int compile_rule(build_t *b, const iw_rule_t *r, unsigned types)
{
    int nsel = r->selections ? r->selections->nelts : 0, i, errs = b->errors;
    int32_t *selmap = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(nsel + 1));
    char *used = apr_pcalloc(b->tp, (size_t)nsel + 1);
    crule_t cr;
    int32_t root;

    b->rule = r;
    b->types = types;
    if (!r->cond) {
        berr(b, r->line, 0, "rule has no condition");
        return -1;
    }
    mark_used(r->cond, used, nsel, 0);
    for (i = 0; i < nsel; i++) {
        selmap[i] = -1;
        if (!used[i]) continue;
        if (compile_selection(b, &APR_ARRAY_IDX(r->selections, i, iw_selection_t)) == 0)
            selmap[i] = b->sels->nelts - 1;
    }
    if (b->errors != errs) return -1;
    if ((root = compile_cond(b, r->cond, selmap, nsel, 0)) < 0) return -1;
    memset(&cr, 0, sizeof(cr));
    cr.rule = r;
    cr.root = root;
    cr.applies = types;
    APR_ARRAY_PUSH(b->crules, crule_t) = cr;
    return b->crules->nelts - 1;
}

/* ---- candidate triggers --------------------------------------------------- */

/* Trigger set of a sub-condition: predicates one of which must be set for
 * it to be true (always = it can be true with no predicate set). */
typedef struct trig { int always; double w; apr_array_header_t *preds; } trig_t;

static trig_t trig_always(void) { trig_t t = { 1, 1.0, NULL }; return t; }

static void trig_union(build_t *b, trig_t *acc, const trig_t *t)
{
    if (acc->always) return;
    if (t->always) { *acc = trig_always(); return; }
    if (!acc->preds) acc->preds = apr_array_make(b->tp, 4, sizeof(int32_t));
    apr_array_cat(acc->preds, t->preds);
    acc->w += t->w;
}

static trig_t trig_item(build_t *b, const citem_t *it)
{
    trig_t t = { 0, 0, apr_array_make(b->tp, 2, sizeof(int32_t)) };
    int r, k;
    for (r = 0; r < it->rows.n; r++) {
        const range_t *row = &APR_ARRAY_IDX(b->rows, it->rows.first + r, range_t);
        int32_t best = -1;
        double bw = 2;
        for (k = 0; k < row->n; k++) {
            int32_t term = APR_ARRAY_IDX(b->terms, row->first + k, int32_t);
            double w = APR_ARRAY_IDX(b->predw, term >> 1, double);
            if (!(term & 1) && w < bw) { bw = w; best = term >> 1; }
        }
        if (best < 0) return trig_always();
        APR_ARRAY_PUSH(t.preds, int32_t) = best;
        t.w += bw;
    }
    return t;
}

static trig_t trig_sel(build_t *b, int32_t sel)
{
    const range_t *sr = &APR_ARRAY_IDX(b->sels, sel, range_t);
    trig_t acc = { 0, 0, NULL };
    int g, i;
    for (g = 0; g < sr->n; g++) {
        const range_t *gr = &APR_ARRAY_IDX(b->groups, sr->first + g, range_t);
        trig_t best = trig_always();
        for (i = 0; i < gr->n; i++) {
            trig_t t = trig_item(b, &APR_ARRAY_IDX(b->items, gr->first + i, citem_t));
            if (!t.always && (best.always || t.w < best.w)) best = t;
        }
        trig_union(b, &acc, &best);
        if (acc.always) break;
    }
    if (!acc.preds && !acc.always) acc = trig_always();
    return acc;
}

static trig_t trig_node(build_t *b, int32_t ni)
{
    const cnode_t *n = &APR_ARRAY_IDX(b->nodes, ni, cnode_t);
    trig_t acc = { 0, 0, NULL }, best = trig_always();
    int i;
    switch (n->type) {
    case N_SEL:
        return trig_sel(b, n->a);
    case N_AND:
        for (i = 0; i < n->n; i++) {
            trig_t t = trig_node(b, APR_ARRAY_IDX(b->kids, n->a + i, int32_t));
            if (!t.always && (best.always || t.w < best.w)) best = t;
        }
        return best;
    case N_OR:
        for (i = 0; i < n->n && !acc.always; i++) {
            trig_t t = trig_node(b, APR_ARRAY_IDX(b->kids, n->a + i, int32_t));
            trig_union(b, &acc, &t);
        }
        return acc.preds || acc.always ? acc : trig_always();
    default:
        return trig_always();
    }
}

static void build_triggers(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->predw->nelts, r, i;
    int32_t *count = apr_pcalloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    int32_t *fill;
    apr_array_header_t **sets = apr_pcalloc(b->tp, sizeof(void *) * (size_t)(e->nrules + 1));

    for (r = 0; r < e->nrules; r++) {
        trig_t t = trig_node(b, APR_ARRAY_IDX(b->crules, r, crule_t).root);
        if (t.always) {
            APR_ARRAY_PUSH(b->always, int32_t) = r;
            continue;
        }
        sets[r] = t.preds;
        for (i = 0; i < t.preds->nelts; i++) count[APR_ARRAY_IDX(t.preds, i, int32_t)]++;
    }
    e->trig_first = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    fill = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    e->trig_first[0] = 0;
    for (i = 0; i < np; i++) e->trig_first[i + 1] = e->trig_first[i] + count[i];
    e->trig_rules = apr_palloc(b->p, sizeof(int32_t) * (size_t)(e->trig_first[np] + 1));
    memcpy(fill, e->trig_first, sizeof(int32_t) * (size_t)(np + 1));
    for (r = 0; r < e->nrules; r++) {
        if (!sets[r]) continue;
        for (i = 0; i < sets[r]->nelts; i++) {
            int32_t p = APR_ARRAY_IDX(sets[r], i, int32_t);
            /* a rule may list the same predicate twice */
            if (fill[p] > e->trig_first[p] && e->trig_rules[fill[p] - 1] == r) continue;
            e->trig_rules[fill[p]++] = r;
        }
    }
    /* duplicates skipped above leave holes: compact by re-running counts */
    for (i = 0; i < np; i++) count[i] = fill[i] - e->trig_first[i];
    {
        int32_t *tr = apr_palloc(b->p, sizeof(int32_t) * (size_t)(e->trig_first[np] + 1));
        int32_t *tf = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
        tf[0] = 0;
        for (i = 0; i < np; i++) {
            memcpy(tr + tf[i], e->trig_rules + e->trig_first[i], sizeof(int32_t) * (size_t)count[i]);
            tf[i + 1] = tf[i] + count[i];
        }
        e->trig_rules = tr;
        e->trig_first = tf;
    }
    e->always = (int32_t *)b->always->elts;
    e->nalways = b->always->nelts;
}

static int merge_slot(int field);

/* Field of each predicate's matchers: -1 none, -2 several fields, -3
 * several fields where the scan order is not the field order (a direct
 * check runs after all scans, a merged field is found inside _raw): the
 * lazy evaluation tries fields in field order, so that the field reported
 * as evidence is the one the scan would have set first. */
static void pred_fields(build_t *b, int32_t *pf, int np)
{
    int i;
    int32_t a;
    char *odd = apr_pcalloc(b->tp, (size_t)np + 1);
    for (i = 0; i < np; i++) pf[i] = -1;
    for (i = 0; i < b->dc->nelts; i++) {
        const dcheck_t *d = &APR_ARRAY_IDX(b->dc, i, dcheck_t);
        pf[d->pred] = pf[d->pred] == -1 || pf[d->pred] == d->field ? d->field : -2;
        odd[d->pred] = 1;
    }
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
            if (v < 0) continue;                   /* regex: its pred is in pnl */
            pf[v] = pf[v] == -1 || pf[v] == pt->field ? pt->field : -2;
            if (merge_slot(pt->field) >= 0) odd[v] = 1;
            if (!pt->lb || !pt->ll || pt->dead) APR_ARRAY_IDX(b->pnl, v, char) = 1;
        }
    }
    for (i = 0; i < np; i++)
        if (pf[i] == -2 && odd[i]) pf[i] = -3;
}

/* Entries of one lazy predicate in field order (insertion sort: few). */
static void lz_sort(lazyent_t *z, int n)
{
    int i, j;
    for (i = 1; i < n; i++) {
        lazyent_t t = z[i];
        for (j = i; j > 0 && z[j - 1].field > t.field; j--) z[j] = z[j - 1];
        z[j] = t;
    }
}

/* Direct checks of lazy predicates move out of the per-event list. */
static void split_dchecks(build_t *b, const char *lz)
{
    apr_array_header_t *ldc = apr_array_make(b->p, 8, sizeof(dcheck_t));
    int i, k = 0;
    for (i = 0; i < b->dc->nelts; i++) {
        dcheck_t d = APR_ARRAY_IDX(b->dc, i, dcheck_t);
        if (lz[d.pred]) APR_ARRAY_PUSH(ldc, dcheck_t) = d;
        else APR_ARRAY_IDX(b->dc, k++, dcheck_t) = d;
    }
    b->dc->nelts = k;
    b->e->ldc = (dcheck_t *)ldc->elts;
    b->e->nldc = ldc->nelts;
}

/* Lazy predicates (see lazyent_t): not a trigger of any rule, every
 * matcher a plain literal or a direct check (see pred_fields).  A pattern
 * serving only such predicates leaves the scan.  Needs the triggers. */
static void plan_lazy(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->predw->nelts, i;
    int32_t *pf = apr_palloc(b->tp, sizeof(int32_t) * (size_t)(np + 1));
    int32_t *fill, a;
    char *lz = apr_pcalloc(b->tp, (size_t)np + 1);

    e->lazy = apr_pcalloc(b->p, sizeof(uint64_t) * (size_t)(np / 64 + 1));
    e->lz_first = apr_pcalloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    pred_fields(b, pf, np);
    for (i = 0; i < np; i++)
        if (!APR_ARRAY_IDX(b->pnl, i, char) && pf[i] != -1 && pf[i] != -3
            && e->trig_first[i + 1] == e->trig_first[i]) {
            lz[i] = 1;
            e->lazy[i >> 6] |= (uint64_t)1 << (i & 63);
        }
    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        int all = pt->act_head >= 0;
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
            if (v >= 0 && lz[v]) e->lz_first[v + 1]++;
            else all = 0;
        }
        pt->lazy = all;
    }
    split_dchecks(b, lz);
    for (i = 0; i < e->nldc; i++) e->lz_first[e->ldc[i].pred + 1]++;
    for (i = 0; i < np; i++) e->lz_first[i + 1] += e->lz_first[i];
    e->nlazy = e->lz_first[np];
    e->lz = apr_pcalloc(b->p, sizeof(lazyent_t) * (size_t)(e->nlazy + 1));
    fill = apr_pmemdup(b->tp, e->lz_first, sizeof(int32_t) * (size_t)(np + 1));
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
            int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
            lazyent_t *z;
            if (v < 0 || !lz[v]) continue;
            z = &e->lz[fill[v]++];
            z->field = pt->field;
            z->l.b = pt->lb;
            z->l.len = (uint32_t)pt->ll;
            z->l.open_s = (uint8_t)pt->open_s;
            z->l.open_e = (uint8_t)pt->open_e;
            z->l.caseless = (pt->flags & HS_FLAG_CASELESS) != 0;
            z->l.id = i;
            z->dc = -1;
        }
    }
    for (i = 0; i < e->nldc; i++) {
        lazyent_t *z = &e->lz[fill[e->ldc[i].pred]++];
        z->field = e->ldc[i].field;
        z->dc = i;
    }
    for (i = 0; i < np; i++)
        if (lz[i]) lz_sort(e->lz + e->lz_first[i], e->lz_first[i + 1] - e->lz_first[i]);
}

/* ---- Vectorscan databases ------------------------------------------------- */

static int type_index(unsigned t) { return t == IW_EV_ERROR ? 1 : 0; }

/* A pattern Vectorscan rejects: a regex prefilter falls back to running
 * PCRE2 on every event; anything else is an error of its rule. */
static void pattern_failed(build_t *b, int32_t pi, const char *msg)
{
    pat_t *pt = &APR_ARRAY_IDX(b->pats, pi, pat_t);
    int32_t a;
    pt->dead = 1;
    for (a = pt->act_head; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next) {
        int32_t v = APR_ARRAY_IDX(b->acts, a, act_t).value;
        if (v < 0) {
            rxalways_t *ra = apr_array_push(b->rxall);
            ra->rx = -1 - v;
            ra->field = pt->field;
            ra->types = pt->types;
        }
    }
    if (!(pt->flags & HS_FLAG_PREFILTER)) {
        b->rule = pt->rule;
        berr(b, pt->line, pt->col, "pattern /%s/ rejected by Vectorscan: %s", pt->expr, msg);
    }
}

static uint64_t hash_bytes(const unsigned char *p, size_t n, int lower)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

static void extab_build(build_t *b, extab_t *x, apr_array_header_t *ids)
{
    uint32_t size = 4;
    int i;
    if (!ids->nelts) return;
    while (size < (uint32_t)ids->nelts * 2) size <<= 1;
    x->t = apr_pcalloc(b->p, sizeof(exent_t) * size);
    x->mask = size - 1;
    for (i = 0; i < ids->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, APR_ARRAY_IDX(ids, i, unsigned), pat_t);
        uint64_t h = hash_bytes(pt->lb, pt->ll, 0);  /* lb is lower-cased already */
        uint32_t k = (uint32_t)h & x->mask;
        while (x->t[k].b) k = (k + 1) & x->mask;
        x->t[k].h = h;
        x->t[k].b = pt->lb;
        x->t[k].len = (uint32_t)pt->ll;
        x->t[k].id = (int32_t)APR_ARRAY_IDX(ids, i, unsigned);
        if (pt->ll > x->maxlen) x->maxlen = (uint32_t)pt->ll;
        if (pt->ll < 256) x->lens[pt->ll >> 6] |= (uint64_t)1 << (pt->ll & 63);
        else x->long_values = 1;
    }
    x->n = ids->nelts;
}

static void lit_push(build_t *b, const pat_t *pt, unsigned id)
{
    litpat_t *l = apr_array_push(b->lits);
    l->b = pt->lb;
    l->len = (uint32_t)pt->ll;
    l->open_s = (uint8_t)pt->open_s;
    l->open_e = (uint8_t)pt->open_e;
    l->caseless = (pt->flags & HS_FLAG_CASELESS) != 0;
    l->id = (int32_t)id;
}

/* One hs_expression_info per pattern (the analysis costs more than
 * loading a cached database): the flags to compile it with and its
 * shortest match (0 when unknown).
 * Vectorscan 5.4.9 loses matches of patterns that reduce to one byte
 * ('a', 'a+', '.*a') under HS_FLAG_SINGLEMATCH once the byte lies past
 * the first 64 bytes of the buffer (found by a differential test; see
 * engine_vectorscan_single_byte).  Such patterns run without it: repeated
 * reports only find their predicate already set. */
static unsigned analyse_expr(const char *expr, unsigned flags, unsigned *min_width)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;

    *min_width = 0;
    if (hs_expression_info(expr, flags & ~HS_FLAG_SINGLEMATCH, &info, &err) != HS_SUCCESS) {
        if (err) hs_free_compile_error(err);
        return flags;      /* the database compile reports the problem */
    }
    *min_width = info->min_width;
    if (info->min_width <= 1) flags &= ~HS_FLAG_SINGLEMATCH;
    free(info);
    return flags;
}

/* analyse_expr over n patterns (their flags updated in place); returns
 * the shortest match of any of them, 0 when one is unknown. */
static unsigned analyse_exprs(const char *const *exprs, unsigned *flags, int n)
{
    unsigned w, shortest = ~0u;
    int i;
    for (i = 0; i < n; i++) {
        flags[i] = analyse_expr(exprs[i], flags[i], &w);
        if (w < shortest) shortest = w;     /* an unknown one (0) makes it 0 */
    }
    return shortest == ~0u ? 0 : shortest;
}

/* Vectorscan database of the listed patterns; a pattern it rejects is
 * dropped (pattern_failed) and the rest compiled again.  *minw: the
 * shortest match of any of them (0 if unknown): a shorter value needs no
 * scan (e.g. `.{150}` of a |re on cs-host). */
static int compile_hs(build_t *b, apr_array_header_t *ids, int field, hs_database_t **out,
                      unsigned *minw)
{
    int i, n, tries;
    for (tries = 0; tries < 1000 && (n = ids->nelts) > 0; tries++) {
        hs_compile_error_t *err = NULL;
        const char **exprs = apr_palloc(b->tp, sizeof(char *) * (size_t)n);
        unsigned *flags = apr_palloc(b->tp, sizeof(unsigned) * (size_t)n);
        unsigned shortest;
        for (i = 0; i < n; i++) {
            unsigned id = APR_ARRAY_IDX(ids, i, unsigned);
            const pat_t *pt;
            if (id >= (unsigned)b->pats->nelts) {
                /* merged literal: every occurrence, the segment decides */
                pt = &APR_ARRAY_IDX(b->pats, APR_ARRAY_IDX(b->conf, id - (unsigned)b->pats->nelts,
                                                           confent_t).pat, pat_t);
                flags[i] = pt->flags & ~HS_FLAG_SINGLEMATCH;
            } else {
                pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
                flags[i] = pt->flags;
            }
            exprs[i] = pt->expr;
        }
        shortest = analyse_exprs(exprs, flags, n);
        if (iw_hscache_compile_multi(b->hsc, exprs, flags, (const unsigned *)ids->elts,
                                     (unsigned)n, HS_MODE_BLOCK, out, &err) == HS_SUCCESS) {
            *minw = shortest;
            return hs_alloc_scratch(*out, &b->e->proto) == HS_SUCCESS ? 0 : -1;
        }
        if (err && err->expression >= 0 && err->expression < n) {
            int at = err->expression;   /* read before err is freed */
            unsigned bad = APR_ARRAY_IDX(ids, at, unsigned);
            if (bad >= (unsigned)b->pats->nelts)   /* the same literal alone compiled */
                bad = (unsigned)APR_ARRAY_IDX(b->conf, bad - (unsigned)b->pats->nelts, confent_t).pat;
            pattern_failed(b, (int32_t)bad, err->message);
            hs_free_compile_error(err);
            for (i = at; i + 1 < n; i++)
                APR_ARRAY_IDX(ids, i, unsigned) = APR_ARRAY_IDX(ids, i + 1, unsigned);
            ids->nelts--;
            continue;
        }
        b->rule = NULL;
        berr(b, 0, 0, "Vectorscan database for field %s: %s",
             iw_field_name((iw_field_id_t)field), err ? err->message : "failed");
        if (err) hs_free_compile_error(err);
        return -1;
    }
    *out = NULL;
    return 0;
}

int iw_engine_plain_dbs = 1;

#define PLAIN_MAX_BRANCHES 64

/* The plain-value database of a field: the patterns of ids (db's), each
 * regex split into its top-level branches, keeping what may match plain
 * bytes.  Built only when it leaves something out; any compile failure
 * simply keeps db for every value (it is only a faster equivalent). */
static void compile_plain(build_t *b, fieldm_t *fm, apr_array_header_t *ids)
{
    apr_array_header_t *ex = apr_array_make(b->tp, 64, sizeof(const char *));
    apr_array_header_t *fl = apr_array_make(b->tp, 64, sizeof(unsigned));
    apr_array_header_t *id = apr_array_make(b->tp, 64, sizeof(unsigned));
    size_t off[PLAIN_MAX_BRANCHES], len[PLAIN_MAX_BRANCHES];
    hs_compile_error_t *err = NULL;
    unsigned shortest;
    int i, k, nb, dropped = 0;

    if (!iw_engine_plain_dbs) return;
    for (i = 0; i < ids->nelts; i++) {
        unsigned pi = APR_ARRAY_IDX(ids, i, unsigned);
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, pi, pat_t);
        size_t n = strlen(pt->expr);
        nb = (pt->flags & HS_FLAG_PREFILTER)   /* PCRE2 confirms: any branch may report */
             ? iw_plain_branches(pt->expr, n, off, len, PLAIN_MAX_BRANCHES) : 1;
        if (nb == 1) { off[0] = 0; len[0] = n; }
        for (k = 0; k < nb; k++) {
            const char *br = pt->expr + off[k];
            if (!iw_plain_may_match(br, len[k])) {
                dropped++;
                continue;
            }
            br = nb == 1 ? pt->expr : apr_pstrmemdup(b->tp, br, len[k]);
            APR_ARRAY_PUSH(ex, const char *) = br;
            APR_ARRAY_PUSH(fl, unsigned) = pt->flags;
            APR_ARRAY_PUSH(id, unsigned) = pi;
        }
    }
    if (!dropped) return;
    if (!ex->nelts) { fm->plain_mode = PLAIN_NONE; return; }
    shortest = analyse_exprs((const char *const *)ex->elts, (unsigned *)fl->elts,
                             ex->nelts);                 /* analysed only when built */
    if (iw_hscache_compile_multi(b->hsc, (const char *const *)ex->elts, (const unsigned *)fl->elts,
                                 (const unsigned *)id->elts, (unsigned)ex->nelts, HS_MODE_BLOCK,
                                 &fm->plain, &err) != HS_SUCCESS) {
        if (err) hs_free_compile_error(err);
        fm->plain = NULL;
        return;
    }
    if (hs_alloc_scratch(fm->plain, &b->e->proto) != HS_SUCCESS) {
        hs_free_database(fm->plain);
        fm->plain = NULL;
        return;
    }
    fm->plain_minw = shortest;
    fm->plain_mode = PLAIN_DB;
    b->e->ndbs++;
}

/* Split the patterns of one field into exact-value tables, compared
 * literals and a Vectorscan database: a Vectorscan call costs ~50-100 ns
 * even on a few bytes, and anchored exact values slow a database down. */
static int compile_field(build_t *b, int ti, int field)
{
    unsigned type = ti ? IW_EV_ERROR : IW_EV_ACCESS;
    fieldm_t *fm = &b->e->fm[ti][field];
    apr_array_header_t *all = apr_array_make(b->tp, 16, sizeof(unsigned));
    apr_array_header_t *ex[2], *affix, *contains, *hs;
    int i, rc = 0;

    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (pt->field == field && (pt->types & type) && !pt->dead && !pt->lazy)
            APR_ARRAY_PUSH(all, unsigned) = (unsigned)i;
    }
    if (!all->nelts) return 0;
    ex[0] = apr_array_make(b->tp, 4, sizeof(unsigned));
    ex[1] = apr_array_make(b->tp, 4, sizeof(unsigned));
    affix = apr_array_make(b->tp, 4, sizeof(unsigned));
    contains = apr_array_make(b->tp, 4, sizeof(unsigned));
    hs = apr_array_make(b->tp, 16, sizeof(unsigned));
    for (i = 0; i < all->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(all, i, unsigned);
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, id, pat_t);
        if (!pt->lb) APR_ARRAY_PUSH(hs, unsigned) = id;
        else if (!pt->open_s && !pt->open_e)
            APR_ARRAY_PUSH(ex[(pt->flags & HS_FLAG_CASELESS) ? 0 : 1], unsigned) = id;
        else if (pt->open_s && pt->open_e) APR_ARRAY_PUSH(contains, unsigned) = id;
        else APR_ARRAY_PUSH(affix, unsigned) = id;
    }
    if (affix->nelts > LIT_MAX_AFFIX) { apr_array_cat(hs, affix); affix->nelts = 0; }
    fm->merged = !ti && b->e->merge && merge_slot(field) >= 0;
    fm->small = !fm->merged && !hs->nelts && contains->nelts <= LIT_MAX_CONTAINS
                && !(!ti && field == IW_F_RAW && b->e->merge);   /* _raw carries merged literals */
    if (fm->merged) {
        /* without the merged literals, for events whose segment is found */
        apr_array_header_t *rest = apr_array_make(b->tp, 8, sizeof(unsigned));
        for (i = 0; i < hs->nelts; i++)
            if (!APR_ARRAY_IDX(b->pats, APR_ARRAY_IDX(hs, i, unsigned), pat_t).conf)
                APR_ARRAY_PUSH(rest, unsigned) = APR_ARRAY_IDX(hs, i, unsigned);
        if (rest->nelts && (rc = compile_hs(b, rest, field, &fm->rest, &fm->rest_minw)) == 0 && fm->rest)
            b->e->ndbs++;
    }
    if (!ti && field == IW_F_RAW && b->e->merge)
        for (i = 0; i < b->conf->nelts; i++)
            APR_ARRAY_PUSH(hs, unsigned) = (unsigned)(b->pats->nelts + i);
    fm->lits.first = b->lits->nelts;
    for (i = 0; i < affix->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(affix, i, unsigned);
        lit_push(b, &APR_ARRAY_IDX(b->pats, id, pat_t), id);
    }
    for (i = 0; fm->small && i < contains->nelts; i++) {
        unsigned id = APR_ARRAY_IDX(contains, i, unsigned);
        lit_push(b, &APR_ARRAY_IDX(b->pats, id, pat_t), id);
    }
    fm->lits.n = b->lits->nelts - fm->lits.first;
    /* contains literals stay in the database for long values */
    apr_array_cat(hs, contains);
    if (hs->nelts) {
        rc = compile_hs(b, hs, field, &fm->db, &fm->db_minw);
        if (fm->db) b->e->ndbs++;
        /* not _raw with merged literals (never plain anyway: spaces) */
        if (fm->db && !rc && !fm->merged && !(!ti && field == IW_F_RAW && b->e->merge))
            compile_plain(b, fm, hs);
    }
    extab_build(b, &fm->ex[0], ex[0]);
    extab_build(b, &fm->ex[1], ex[1]);
    if (fm->db || fm->lits.n || fm->ex[0].n || fm->ex[1].n)
        b->e->scan_fields[ti][b->e->nscan[ti]++] = field;
    return rc;
}

static int merge_slot(int field)
{
    int k;
    for (k = 0; k < NMERGE; k++) if (merge_fields[k] == field) return k;
    return -1;
}

/* Decide the merged scan: only when _raw is scanned anyway (keywords). */
static void plan_merge(build_t *b)
{
    int i, raw = 0;
    for (i = 0; i < b->pats->nelts; i++) {
        const pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        if (pt->field == IW_F_RAW && (pt->types & IW_EV_ACCESS) && !pt->dead && !pt->lazy)
            raw = 1;
    }
    if (!raw) return;
    b->e->merge = 1;
    for (i = 0; i < b->pats->nelts; i++) {
        pat_t *pt = &APR_ARRAY_IDX(b->pats, i, pat_t);
        int slot = merge_slot(pt->field);
        confent_t *c;
        if (slot < 0 || !(pt->types & IW_EV_ACCESS) || pt->dead || pt->lazy || !pt->lb
            || !pt->open_s || !pt->open_e)
            continue;
        pt->conf = 1;
        c = apr_array_push(b->conf);
        c->pat = i;
        c->field = pt->field;
        c->len = (int32_t)pt->ll;
        c->slot = slot;
    }
}

static void build_actions(build_t *b)
{
    iw_engine_t *e = b->e;
    int np = b->pats->nelts, i, k = 0;
    e->pat_act_first = apr_palloc(b->p, sizeof(int32_t) * (size_t)(np + 1));
    e->acts = apr_palloc(b->p, sizeof(int32_t) * (size_t)(b->acts->nelts + 1));
    for (i = 0; i < np; i++) {
        int32_t a = APR_ARRAY_IDX(b->pats, i, pat_t).act_head;
        e->pat_act_first[i] = k;
        for (; a >= 0; a = APR_ARRAY_IDX(b->acts, a, act_t).next)
            e->acts[k++] = APR_ARRAY_IDX(b->acts, a, act_t).value;
    }
    e->pat_act_first[np] = k;
}

static apr_status_t engine_cleanup(void *data)
{
    iw_engine_t *e = data;
    int t, f, i;
    for (t = 0; t < NTYPES; t++)
        for (f = 0; f < IW_F__COUNT; f++) {
            fieldm_t *fm = &e->fm[t][f];
            if (fm->db) { hs_free_database(fm->db); fm->db = NULL; }
            if (fm->rest) { hs_free_database(fm->rest); fm->rest = NULL; }
            if (fm->plain) { hs_free_database(fm->plain); fm->plain = NULL; }
        }
    for (f = 0; f < IW_F__COUNT; f++) { iw_radix_destroy(e->radix[f]); e->radix[f] = NULL; }
    if (e->proto) { hs_free_scratch(e->proto); e->proto = NULL; }
    for (i = 0; e->codes && i < e->codes->nelts; i++)
        pcre2_code_free(APR_ARRAY_IDX(e->codes, i, pcre2_code *));
    if (e->codes) e->codes->nelts = 0;
    return APR_SUCCESS;
}

/* ---- compile ---------------------------------------------------------------- */

/* Order: by field (one fetch per field), then identical tests next to
 * each other (one evaluation for all their predicates). */
static int dcheck_key_cmp(const dcheck_t *x, const dcheck_t *y)
{
#define K(m) if (x->m != y->m) return x->m < y->m ? -1 : 1
    K(field); K(kind); K(op); K(num); K(unit); K(field2); K(mode); K(cased);
#undef K
    return 0;
}

static int dcheck_cmp(const void *a, const void *b)
{
    const dcheck_t *x = a, *y = b;
    int c = dcheck_key_cmp(x, y);
    return c ? c : x->pred < y->pred ? -1 : x->pred > y->pred;
}

/* Left out of the compiled engine: rules excluded by id, and rules below
 * min_level that feed no correlation.  A rule that feeds one is compiled
 * whatever its level (feeders are mostly informational): a level
 * threshold filters alerts, the caller drops the rule's own alert. */
static int excluded(const iw_rule_t *r, const iw_engine_opts_t *o)
{
    int i;
    if (!o) return 0;
    if (o->min_level != IW_LEVEL_NONE && r->level < o->min_level
        && !(r->feeds && r->feeds->nelts)) return 1;
    for (i = 0; o->exclude_ids && r->id && i < o->exclude_ids->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(o->exclude_ids, i, const char *), r->id)) return 1;
    return 0;
}

static unsigned rule_types(const iw_rule_t *r)
{
    unsigned t = r->applies_to & ALL_TYPES;
    return t ? t : ALL_TYPES;
}

/* Filters: each referenced filter rule compiled once, after the detection
 * rules, with the union of the types of the rules it applies to. */
static void compile_filters(build_t *b, apr_hash_t *fidx)
{
    int r, i, nrules = b->e->nrules;
    apr_array_header_t *lists = apr_array_make(b->tp, nrules, sizeof(void *));

    for (r = 0; r < nrules; r++) {
        crule_t *cr = &APR_ARRAY_IDX(b->crules, r, crule_t);
        apr_array_header_t *l = apr_array_make(b->tp, 1, sizeof(int32_t));
        for (i = 0; cr->rule->filters && i < cr->rule->filters->nelts; i++) {
            const iw_rule_t *f = APR_ARRAY_IDX(cr->rule->filters, i, const iw_rule_t *);
            void *v = apr_hash_get(fidx, &f, sizeof(f));
            int ci;
            if (!f) continue;
            if (!v) {
                if ((ci = compile_rule(b, f, ALL_TYPES)) < 0) ci = -2;
                apr_hash_set(fidx, apr_pmemdup(b->tp, &f, sizeof(f)), sizeof(f),
                             (void *)(intptr_t)(ci + 3));
            } else {
                ci = (int)(intptr_t)v - 3;
            }
            if (ci >= 0) APR_ARRAY_PUSH(l, int32_t) = ci;
        }
        APR_ARRAY_PUSH(lists, void *) = l;
    }
    for (r = 0; r < nrules; r++) {
        crule_t *cr = &APR_ARRAY_IDX(b->crules, r, crule_t);
        apr_array_header_t *l = APR_ARRAY_IDX(lists, r, apr_array_header_t *);
        cr->filters.first = b->filt->nelts;
        cr->filters.n = l->nelts;
        apr_array_cat(b->filt, l);
    }
}

/* Build state and an empty engine whose cleanup frees what Vectorscan,
 * PCRE2 and the radix trees allocate outside the pool. */
static void build_init(build_t *b, apr_pool_t *p, iw_ruleset_t *rs, iw_diag_t *diag)
{
    iw_engine_t *e;

    memset(b, 0, sizeof(*b));
    b->p = p;
    apr_pool_create(&b->tp, p);
    b->diag = diag;
    b->rs = rs;
    e = b->e = apr_pcalloc(p, sizeof(*e));
    e->pool = p;
    e->rs = rs;
    e->codes = apr_array_make(p, 8, sizeof(pcre2_code *));
    apr_pool_cleanup_register(p, e, engine_cleanup, apr_pool_cleanup_null);
#define MK(a, type) b->a = apr_array_make(p, 64, sizeof(type))
    MK(crules, crule_t); MK(nodes, cnode_t); MK(kids, int32_t); MK(sels, range_t);
    MK(groups, range_t); MK(items, citem_t); MK(rows, range_t); MK(terms, int32_t);
    MK(filt, int32_t); MK(pats, pat_t); MK(acts, act_t); MK(rx, rxcheck_t);
    MK(rxall, rxalways_t); MK(dc, dcheck_t); MK(predw, double); MK(always, int32_t);
    MK(lits, litpat_t); MK(conf, confent_t); MK(pnl, char);
#undef MK
    b->pat_by_key = apr_hash_make(b->tp);
    b->pred_by_sig = apr_hash_make(b->tp);
}

/* The engine reads the build arrays in place (they live in the pool). */
static void engine_publish(build_t *b)
{
    iw_engine_t *e = b->e;
    e->rules = (crule_t *)b->crules->elts;
    e->ncrules = b->crules->nelts;
    e->nodes = (cnode_t *)b->nodes->elts;
    e->kids = (int32_t *)b->kids->elts;
    e->sels = (range_t *)b->sels->elts;
    e->groups = (range_t *)b->groups->elts;
    e->items = (citem_t *)b->items->elts;
    e->rows = (range_t *)b->rows->elts;
    e->terms = (int32_t *)b->terms->elts;
    e->filt = (int32_t *)b->filt->elts;
    e->npreds = b->predw->nelts;
    e->rx = (rxcheck_t *)b->rx->elts;
    e->nrx = b->rx->nelts;
    e->rxall = (rxalways_t *)b->rxall->elts;
    e->nrxall = b->rxall->nelts;
    e->dc = (dcheck_t *)b->dc->elts;
    e->ndc = b->dc->nelts;
    qsort(e->dc, (size_t)e->ndc, sizeof(dcheck_t), dcheck_cmp);
    e->lits = (litpat_t *)b->lits->elts;
    e->conf = (confent_t *)b->conf->elts;
    e->nconf = b->conf->nelts;
    e->npatterns = b->pats->nelts;
}

/* ---- readers: which rules read a predicate (evaluation errors) ------------ */

typedef struct rdwalk { int32_t *mark, rule, *out; int n; } rdwalk_t;

static void readers_node(const iw_engine_t *e, int32_t ni, rdwalk_t *w)
{
    const cnode_t *n = &e->nodes[ni];
    int g, i, r, k;
    if (n->type != N_SEL) {
        for (i = 0; i < n->n; i++) readers_node(e, e->kids[n->a + i], w);
        return;
    }
    for (g = 0; g < e->sels[n->a].n; g++) {
        const range_t *gr = &e->groups[e->sels[n->a].first + g];
        for (i = 0; i < gr->n; i++) {
            const citem_t *it = &e->items[gr->first + i];
            for (r = 0; r < it->rows.n; r++) {
                const range_t *row = &e->rows[it->rows.first + r];
                for (k = 0; k < row->n; k++) {
                    int32_t p = e->terms[row->first + k] >> 1;
                    if (w->mark[p] == w->rule + 1) continue;
                    w->mark[p] = w->rule + 1;
                    if (w->out) w->out[2 * w->n] = p, w->out[2 * w->n + 1] = w->rule;
                    w->n++;
                }
            }
        }
    }
}

/* rd_first/rd_rules: per predicate, the detection rules whose condition
 * or filters read it; pat_field: each pattern's field. */
static void build_readers(build_t *b)
{
    iw_engine_t *e = b->e;
    rdwalk_t w;
    int32_t r, i, *cnt;
    int pass;

    e->nrs = b->rs->rules->nelts;
    e->pat_field = apr_palloc(b->p, (size_t)e->npatterns + 1);
    for (i = 0; i < e->npatterns; i++)
        e->pat_field[i] = (int8_t)APR_ARRAY_IDX(b->pats, i, pat_t).field;
    w.mark = apr_pcalloc(b->tp, sizeof(int32_t) * ((size_t)e->npreds + 1));
    w.out = NULL;
    for (pass = 0; pass < 2; pass++) {      /* count, then fill */
        w.n = 0;
        for (i = 0; i < e->npreds; i++) w.mark[i] = 0;
        for (r = 0; r < e->nrules; r++) {
            const crule_t *cr = &e->rules[r];
            w.rule = r;
            readers_node(e, cr->root, &w);
            for (i = 0; i < cr->filters.n; i++)
                readers_node(e, e->rules[e->filt[cr->filters.first + i]].root, &w);
        }
        if (!pass) w.out = apr_palloc(b->tp, sizeof(int32_t) * 2 * ((size_t)w.n + 1));
    }
    cnt = apr_pcalloc(b->tp, sizeof(int32_t) * ((size_t)e->npreds + 1));
    for (i = 0; i < w.n; i++) cnt[w.out[2 * i]]++;
    e->rd_first = apr_palloc(b->p, sizeof(int32_t) * ((size_t)e->npreds + 1));
    e->rd_rules = apr_palloc(b->p, sizeof(int32_t) * ((size_t)w.n + 1));
    e->rd_first[0] = 0;
    for (i = 0; i < e->npreds; i++) e->rd_first[i + 1] = e->rd_first[i] + cnt[i];
    for (i = 0; i < e->npreds; i++) cnt[i] = e->rd_first[i];
    for (i = 0; i < w.n; i++) e->rd_rules[cnt[w.out[2 * i]]++] = w.out[2 * i + 1];
}

/* ---- event cache plan ---------------------------------------------------- */

#define FBIT(f) ((uint64_t)1 << (f))

static void read_field(iw_engine_t *e, unsigned types, int f)
{
    int t;
    for (t = 0; t < NTYPES; t++)
        if (types & (t ? IW_EV_ERROR : IW_EV_ACCESS)) e->evk_fields[t] |= FBIT(f);
}

static void read_dcheck(iw_engine_t *e, const dcheck_t *d, unsigned types)
{
    read_field(e, types, d->field);
    if (d->kind == D_FIELDREF) read_field(e, types, d->field2);
    if (d->kind == D_TIME) e->evk_time = 1;
}

/* The lazy views are functions of these (iw_event.c). */
static void expand_lazy(iw_engine_t *e)
{
    static const struct { int view; uint64_t from; int hdrs; } deps[] = {
        { IW_F_CS_HEADERS, 0, 1 },
        { IW_F_CS_HEADERS_DEC, 0, 1 },
        { IW_F_RAW, FBIT(IW_F_CS_METHOD) | FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_VERSION)
                    | FBIT(IW_F_SC_STATUS), 1 },
        { IW_F_CS_URI_DEC, FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_URI_STEM)
                           | FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_CS_URI_STEM_DEC, FBIT(IW_F_CS_URI_STEM), 0 },
        { IW_F_CS_URI_QUERY_DEC, FBIT(IW_F_CS_URI_QUERY), 0 },
        { IW_F_CS_BODY_DEC, FBIT(IW_F_CS_BODY), 0 },
        /* the request's size (and the process's fixed limit) */
        { IW_F_IW_TRUNCATED, FBIT(IW_F_CS_METHOD) | FBIT(IW_F_CS_URI)
                             | FBIT(IW_F_CS_VERSION) | FBIT(IW_F_CS_BODY), 1 },
    };
    uint64_t *m = &e->evk_fields[0], when = FBIT(IW_F_DATE) | FBIT(IW_F_TIME);
    size_t k;
    int t;

    for (k = 0; k < sizeof(deps) / sizeof(deps[0]); k++) {
        if (!(*m & FBIT(deps[k].view))) continue;
        *m = (*m & ~FBIT(deps[k].view)) | deps[k].from;
        if (deps[k].hdrs) e->evk_hdrs[0] = 1;
    }
    /* both event types: "date" and "time" are text of the event's second */
    for (t = 0; t < NTYPES; t++) {
        if (!(e->evk_fields[t] & when)) continue;
        e->evk_fields[t] &= ~when;
        e->evk_secs[t] = 1;
    }
}

/* Where iw_event_from_request takes access field f from: a member of the
 * description it copies (a string, or a number when known), nowhere (the
 * field is never set in a request's event), or RK_DERIVED (computed from
 * other data: a request key cannot stand for it). */
static rkey_item_t rkey_item(int f)
{
    rkey_item_t it = { 0, RK_DERIVED, 0 };
#define RK(field, member, how, when) case field:                                   \
    it.off = (uint16_t)offsetof(iw_request_desc_t, member); it.kind = how; it.later = when; break
    switch (f) {
    RK(IW_F_C_IP, client_ip, RK_STR, 0);
    RK(IW_F_S_IP, server_ip, RK_STR, IW_RD_SERVER);
    RK(IW_F_S_SITENAME, sitename, RK_STR, IW_RD_SITENAME);
    RK(IW_F_CS_METHOD, method, RK_STR, 0);
    RK(IW_F_CS_URI, target, RK_STR, 0);
    RK(IW_F_CS_VERSION, version, RK_STR, 0);
    RK(IW_F_CS_USERNAME, username, RK_STR, 0);
    RK(IW_F_REQUEST_ID, request_id, RK_STR, IW_RD_REQUEST_ID);
    RK(IW_F_CS_BODY, body, RK_STR, 0);
    RK(IW_F_S_PORT, server_port, RK_INT, IW_RD_SERVER);
    RK(IW_F_SC_STATUS, status, RK_INT, 0);
    RK(IW_F_SC_BYTES, sc_bytes, RK_I64, 0);
    RK(IW_F_CS_BYTES, cs_bytes, RK_I64, 0);
    RK(IW_F_TIME_TAKEN, time_taken_ms, RK_I64, IW_RD_TIME_TAKEN);
    case IW_F_MESSAGE: case IW_F_LEVEL: case IW_F_MODULE: case IW_F_AH_CODE: case IW_F_PID:
        it.kind = RK_NULL;
        break;
    default: break;
    }
#undef RK
    return it;
}

/* For events built by iw_event_from_request, stem, query and host are
 * functions of target, method and the header list, and the header fields
 * of the list alone: with those keyed, the derived ones need not be. */
static void plan_request_key(iw_engine_t *e)
{
    const uint64_t by_hdrs = FBIT(IW_F_CS_USER_AGENT) | FBIT(IW_F_CS_REFERER)
                             | FBIT(IW_F_CS_COOKIE) | FBIT(IW_F_CS_CONTENT_TYPE);
    const uint64_t by_target = FBIT(IW_F_CS_URI_STEM) | FBIT(IW_F_CS_URI_QUERY);
    /* host also needs the list (the Host header), else the target alone */
    const uint64_t from_target = by_target | (e->evk_hdrs[0] ? FBIT(IW_F_CS_HOST) : 0);
    uint64_t m = e->evk_fields[0];

    if (e->evk_hdrs[0]) m &= ~by_hdrs;
    if (m & from_target) m = (m & ~from_target) | FBIT(IW_F_CS_URI) | FBIT(IW_F_CS_METHOD);
    e->evk_req = m;
    e->evk_req_desc = 1;
    for (e->nrkey = 0, e->rkey_later = 0; m; m &= m - 1) {
        rkey_item_t it = rkey_item(__builtin_ctzll(m));
        if (it.kind == RK_DERIVED) {
            e->evk_req_desc = 0;
            e->nrkey = 0;
            return;
        }
        e->rkey[e->nrkey++] = it;
        e->rkey_later |= it.later;
    }
}

/* Which event data any matcher reads: the event cache keys on exactly
 * that (and on nothing else, so e.g. the time or request id do not spoil
 * it unless a rule reads them). */
static void plan_event_key(iw_engine_t *e)
{
    int t, i, k;

    for (t = 0; t < NTYPES; t++)
        for (i = 0; i < e->nscan[t]; i++)
            read_field(e, t ? IW_EV_ERROR : IW_EV_ACCESS, e->scan_fields[t][i]);
    for (i = 0; i < e->nrxall; i++) read_field(e, e->rxall[i].types, e->rxall[i].field);
    for (i = 0; i < e->nradix; i++)
        read_field(e, e->radix_types[e->radix_fields[i]], e->radix_fields[i]);
    for (i = 0; i < e->ndc; i++) read_dcheck(e, &e->dc[i], e->dc[i].types);
    for (i = 0; i < e->nldc; i++) read_dcheck(e, &e->ldc[i], ALL_TYPES);
    for (i = 0; i < e->nlazy; i++)
        if (e->lz[i].dc < 0) read_field(e, ALL_TYPES, e->lz[i].field);
    if (e->nconf)                  /* merged scan: segments of these in _raw */
        for (k = 0; k < NMERGE; k++) read_field(e, IW_EV_ACCESS, merge_fields[k]);
    expand_lazy(e);
    plan_request_key(e);
}

iw_engine_t *iw_engine_compile(apr_pool_t *p, iw_ruleset_t *rs,
                               const iw_engine_opts_t *opts, iw_diag_t *diag)
{
    build_t bb, *b = &bb;
    iw_engine_t *e;
    int i, t, f;

    if (!rs || !rs->rules) return NULL;
    build_init(b, p, rs, diag);
    b->hsc = opts ? opts->hscache : NULL;
    e = b->e;
    e->sc_entries = !opts || !opts->scan_cache ? IW_SCACHE_DEFAULT_ENTRIES
                    : opts->scan_cache < 0 ? 0 : (unsigned)opts->scan_cache;
    for (i = 0; i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (!r || r->kind != IW_RULE_DETECTION || excluded(r, opts)) continue;
        compile_rule(b, r, rule_types(r));
    }
    e->nrules = b->crules->nelts;
    compile_filters(b, apr_hash_make(b->tp));
    b->rule = NULL;

    build_triggers(b);
    plan_lazy(b);
    plan_merge(b);
    for (t = 0; t < NTYPES; t++)
        for (f = 0; f < IW_F__COUNT; f++)
            if (compile_field(b, t, f) < 0 && !b->errors)
                berr(b, 0, 0, "Vectorscan scratch allocation failed");
    for (f = 0; f < IW_F__COUNT; f++) {
        if (!e->radix[f]) continue;
        if (iw_radix_finalize(e->radix[f]) < 0) berr(b, 0, 0, "out of memory");
        e->radix_fields[e->nradix++] = f;
    }
    build_actions(b);
    engine_publish(b);
    build_readers(b);
    plan_event_key(e);
    apr_pool_destroy(b->tp);
    return b->errors ? NULL : e;
}

const iw_ruleset_t *iw_engine_ruleset(const iw_engine_t *e) { return e ? e->rs : NULL; }
int iw_engine_rule_count(const iw_engine_t *e) { return e ? e->nrules : 0; }

void iw_engine_rule_counts(const iw_engine_t *e, iw_rule_counts_t *c)
{
    const iw_ruleset_t *rs = e ? e->rs : NULL;
    int i;

    memset(c, 0, sizeof(*c));
    for (i = 0; rs && rs->rules && i < rs->rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (!r) continue;
        c->total++;
        if (r->kind == IW_RULE_DETECTION) c->detection++;
        else if (r->kind == IW_RULE_CORRELATION) c->correlation++;
        else if (r->kind == IW_RULE_FILTER) c->filters++;
    }
    c->not_compiled = c->detection - (e ? e->nrules : 0);
    if (c->not_compiled < 0) c->not_compiled = 0;
}

int iw_rule_counts_text(const iw_rule_counts_t *c, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%d rule%s: %d detection, %d correlation, %d filter%s",
                     c->total, c->total == 1 ? "" : "s", c->detection,
                     c->correlation, c->filters, c->filters == 1 ? "" : "s");
    if (c->not_compiled > 0 && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - n, " (%d detection rule%s not compiled: "
                      "excluded or below the minimum level)", c->not_compiled,
                      c->not_compiled == 1 ? "" : "s");
    return n;
}

/* ---- scratch ---------------------------------------------------------------- */

iw_scratch_t *iw_scratch_create(const iw_engine_t *e)
{
    iw_scratch_t *s;
    size_t np, nr;

    if (!e) return NULL;
    np = (size_t)e->npreds;
    nr = (size_t)e->ncrules;
    if (!(s = calloc(1, sizeof(*s)))) return NULL;
    s->e = e;
    s->bits = calloc(np / 64 + 1, sizeof(uint64_t));
    s->pfield = calloc(np + 1, 1);
    s->touched = calloc(np + 1, sizeof(int32_t));
    s->rgen = calloc(nr + 1, sizeof(uint32_t));
    s->pgen = calloc(np + 1, sizeof(uint32_t));
    s->cand = calloc(nr + 1, sizeof(int32_t));
    s->hits = calloc(nr + 1, sizeof(iw_hit_t));
    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jstack = pcre2_jit_stack_create(RX_JIT_STACK_START, RX_JIT_STACK_MAX, NULL);
    s->errp = calloc(np + 1, sizeof(int32_t));
    s->errp_code = calloc(np + 1, sizeof(int));
    s->errp_field = calloc(np + 1, 1);
    s->errgen = calloc(np + 1, sizeof(uint32_t));
    s->rerrgen = calloc(nr + 1, sizeof(uint32_t));
    s->errs = calloc(nr + 1, sizeof(iw_eval_error_t));
    s->rule_errs = calloc((size_t)e->nrs + 1, sizeof(uint64_t));
    if (!s->mctx || !s->jstack || !s->errp || !s->errp_code || !s->errp_field || !s->errgen
        || !s->rerrgen || !s->errs || !s->rule_errs) {
        iw_scratch_destroy(s);
        return NULL;
    }
    pcre2_jit_stack_assign(s->mctx, NULL, s->jstack);
    pcre2_set_match_limit(s->mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mctx, RX_HEAP_LIMIT);
    if (e->sc_entries && (!(s->sc = iw_scache_create(e->sc_entries))
                          || !(s->evc = iw_scache_create(EVC_ENTRIES(e->sc_entries)))
                          || !(s->kbuf = malloc(IW_SCACHE_MAX_KEY)))) {
        iw_scratch_destroy(s);
        return NULL;
    }
    if (!s->bits || !s->pfield || !s->touched || !s->rgen || !s->pgen || !s->cand || !s->hits || !s->md
        || (e->proto && hs_clone_scratch(e->proto, &s->hs) != HS_SUCCESS)) {
        iw_scratch_destroy(s);
        return NULL;
    }
    return s;
}

IW_HOT
const iw_engine_t *iw_scratch_engine(const iw_scratch_t *s)
{
    return s->e;
}

void iw_scratch_destroy(iw_scratch_t *s)
{
    if (!s) return;
    if (s->hs) hs_free_scratch(s->hs);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jstack) pcre2_jit_stack_free(s->jstack);
    free(s->errp); free(s->errp_code); free(s->errp_field); free(s->errgen); free(s->rerrgen);
    free(s->errs); free(s->rule_errs);
    iw_scache_destroy(s->sc);
    iw_scache_destroy(s->evc);
    free(s->kbuf);
    free(s->bits); free(s->pfield); free(s->touched); free(s->rgen); free(s->pgen);
    free(s->cand); free(s->hits);
    free(s);
}

/* ---- evaluation ------------------------------------------------------------- */

static inline int pred_is_set(const iw_scratch_t *s, int32_t p)
{
    return (s->bits[p >> 6] >> (p & 63)) & 1;
}

static inline void pred_set(iw_scratch_t *s, int32_t p, int field)
{
    uint64_t m = (uint64_t)1 << (p & 63);
    if (s->bits[p >> 6] & m) return;
    s->bits[p >> 6] |= m;
    s->touched[s->ntouched++] = p;
    s->pfield[p] = (uint8_t)field;
}

/* A predicate whose matcher could not run on this event (a regex past a
 * limit, a failed scan): recorded once per event; the rules reading it are
 * checked after the evaluation (eval_errors). */
static void __attribute__((cold)) pred_error(iw_scratch_t *s, int32_t p, int field, int code)
{
    if (s->errgen[p] == s->gen) return;
    s->errgen[p] = s->gen;
    s->errp[s->nerrp] = p;
    s->errp_code[s->nerrp] = code;
    s->errp_field[s->nerrp++] = (uint8_t)field;
}

/* 1 match, 0 no match, < 0 the PCRE2 error (a limit: the regex could not
 * be evaluated).  Out of JIT stack, the interpreter tries again on the
 * heap (RX_HEAP_LIMIT). */
static int run_regex(iw_scratch_t *s, const rxcheck_t *rx, iw_str_t v)
{
    int rc = rx->jit
        ? pcre2_jit_match(rx->code, (PCRE2_SPTR)v.p, v.len, 0, 0, s->md, s->mctx)
        : pcre2_match(rx->code, (PCRE2_SPTR)v.p, v.len, 0, 0, s->md, s->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(rx->code, (PCRE2_SPTR)v.p, v.len, 0, PCRE2_NO_JIT, s->md, s->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    s->nrx_errors++;
    return rc;
}

typedef struct scan_ctx {
    iw_scratch_t *s;
    int field;
    iw_str_t v;
    segment_t seg[NMERGE];         /* merged fields inside _raw */
    iw_scache_res_t *rec;          /* recording a field's result for the cache */
} scan_ctx_t;

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx);

/* A predicate found by a field's scan (recorded for the cache). */
static inline void scan_set(scan_ctx_t *c, int32_t p)
{
    pred_set(c->s, p, c->field);
    if (c->rec) iw_scache_res_add(c->rec, p, c->field);
}

/* A merged literal found in _raw: it counts when it lies inside the
 * segment of its field. */
static void on_confined(scan_ctx_t *c, const confent_t *ce, unsigned long long to)
{
    const segment_t *sg = &c->seg[ce->slot];
    int field = c->field;
    iw_str_t v = c->v;

    if (!sg->ok || to < (unsigned long long)ce->len
        || to - (unsigned long long)ce->len < sg->off || to > sg->off + sg->len)
        return;
    c->field = ce->field;
    c->v = (iw_str_t){ v.p + sg->off, sg->len };
    on_match((unsigned)ce->pat, 0, to, 0, c);
    c->field = field;
    c->v = v;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    scan_ctx_t *c = ctx;
    const iw_engine_t *e = c->s->e;
    int32_t i;
    (void)from; (void)flags;
    if (id >= (unsigned)e->npatterns) {
        on_confined(c, &e->conf[id - (unsigned)e->npatterns], to);
        return 0;
    }
    for (i = e->pat_act_first[id]; i < e->pat_act_first[id + 1]; i++) {
        int32_t a = e->acts[i];
        if (a >= 0) {
            scan_set(c, a);
        } else {
            /* while recording, confirm even what an earlier field already
             * set: the cached result must not depend on other fields */
            const rxcheck_t *rx = &e->rx[-1 - a];
            int rc;
            if (!c->rec && pred_is_set(c->s, rx->pred)) continue;
            if ((rc = run_regex(c->s, rx, c->v)) > 0) {
                scan_set(c, rx->pred);
            } else if (rc < 0) {
                pred_error(c->s, rx->pred, c->field, rc);
                if (c->rec) c->rec->overflow = 1;   /* not a result to remember */
            }
        }
    }
    return 0;
}

static void on_cidr(void *ctx, int32_t pred)
{
    scan_ctx_t *c = ctx;
    pred_set(c->s, pred, c->field);
}

static int cmp_num(int64_t x, int op, int64_t y)
{
    switch (op) {
    case OP_LT: return x < y;
    case OP_LTE: return x <= y;
    case OP_GT: return x > y;
    case OP_GTE: return x >= y;
    default: return x == y;
    }
}

/* ISO 8601 week number (1..53) of a broken-down UTC time. */
static int iso_week(const struct tm *tm)
{
    int wday = (tm->tm_wday + 6) % 7;           /* Monday = 0 */
    int w = (tm->tm_yday - wday + 10) / 7;      /* yday 0-based: +1 -1 */
    if (w < 1) {
        /* last week of the previous year: 52 or 53 */
        int py = tm->tm_year + 1900 - 1;
        int pj = (py + py / 4 - py / 100 + py / 400) % 7;         /* Dec 31 weekday */
        int ppy = py - 1;
        int ppj = (ppy + ppy / 4 - ppy / 100 + ppy / 400) % 7;
        return (pj == 4 || ppj == 3) ? 53 : 52;
    }
    if (w == 53) {
        int y = tm->tm_year + 1900;
        int j = (y + y / 4 - y / 100 + y / 400) % 7;
        int py = y - 1;
        int pj = (py + py / 4 - py / 100 + py / 400) % 7;
        if (!(j == 4 || pj == 3)) return 1;
    }
    return w;
}

static int time_part(iw_scratch_t *s, int unit, int64_t *out)
{
    if (!s->tm_ok) {
        time_t t = (time_t)apr_time_sec(s->ev->time);
        if (!s->ev->time || !gmtime_r(&t, &s->tm)) return 0;
        s->tm_ok = 1;
    }
    switch (unit) {
    case T_MINUTE: *out = s->tm.tm_min; break;
    case T_HOUR: *out = s->tm.tm_hour; break;
    case T_DAY: *out = s->tm.tm_mday; break;
    case T_WEEK: *out = iso_week(&s->tm); break;
    case T_MONTH: *out = s->tm.tm_mon + 1; break;
    default: *out = s->tm.tm_year + 1900; break;
    }
    return 1;
}

static int mem_eq(const char *a, const char *b, size_t n, int cased)
{
    return cased ? memcmp(a, b, n) == 0 : strncasecmp(a, b, n) == 0 && !memchr(a, 0, n) && !memchr(b, 0, n);
}

static int fieldref_match(iw_str_t a, iw_str_t b, int mode, int cased)
{
    size_t i;
    if (!a.p || !b.p) return 0;
    switch (mode) {
    case FR_EQ: return a.len == b.len && mem_eq(a.p, b.p, a.len, cased);
    case FR_STARTS: return a.len >= b.len && mem_eq(a.p, b.p, b.len, cased);
    case FR_ENDS: return a.len >= b.len && mem_eq(a.p + a.len - b.len, b.p, b.len, cased);
    default:
        if (b.len > a.len) return 0;
        for (i = 0; i + b.len <= a.len; i++)
            if (mem_eq(a.p + i, b.p, b.len, cased)) return 1;
        return 0;
    }
}

/* The value of one field, fetched once for consecutive checks on it
 * (checks are sorted by field at compile time). */
typedef struct fcache { int field, have_num; iw_str_t v; int64_t num; } fcache_t;

static int direct(iw_scratch_t *s, const dcheck_t *d, fcache_t *fc)
{
    iw_event_t *ev = s->ev;
    int64_t x;

    if (fc->field != d->field) {
        fc->field = d->field;
        fc->v = iw_event_get(ev, (iw_field_id_t)d->field);
        fc->have_num = iw_event_num(ev, (iw_field_id_t)d->field, &fc->num);
    }
    switch (d->kind) {
    case D_PRESENT: return fc->v.p != NULL;
    case D_ABSENT: return fc->v.p == NULL;
    case D_NULL: return !fc->v.p || !fc->v.len;
    case D_EMPTY: return fc->v.p && !fc->v.len;
    case D_NUM: return fc->have_num && cmp_num(fc->num, d->op, d->num);
    case D_TIME: return time_part(s, d->unit, &x) && cmp_num(x, d->op, d->num);
    case D_FIELDREF:
        return fieldref_match(fc->v, iw_event_get(ev, (iw_field_id_t)d->field2), d->mode, d->cased);
    case D_LONG: return long_line(fc->v, d->num, d->mode);
    default: return 0;
    }
}

static unsigned char lower_tab[256];

__attribute__((constructor)) static void lower_tab_init(void)
{
    int i;
    for (i = 0; i < 256; i++)
        lower_tab[i] = (unsigned char)(i >= 'A' && i <= 'Z' ? i + 32 : i);
}

static inline int lit_eq(const unsigned char *v, const litpat_t *l)
{
    uint32_t i;
    if (!l->caseless) return memcmp(v, l->b, l->len) == 0;
    for (i = 0; i < l->len; i++)
        if (lower_tab[v[i]] != l->b[i]) return 0;
    return 1;
}

static int lit_match(const litpat_t *l, const unsigned char *v, size_t n)
{
    size_t i, last;
    if (n < l->len || !l->len) return 0;
    if (!l->open_s && !l->open_e) return n == l->len && lit_eq(v, l);
    if (!l->open_s) return lit_eq(v, l);
    if (!l->open_e) return lit_eq(v + n - l->len, l);
    last = n - l->len;
    for (i = 0; i <= last; i++)   /* first byte filter, then compare */
        if ((l->caseless ? lower_tab[v[i]] : v[i]) == l->b[0] && lit_eq(v + i, l)) return 1;
    return 0;
}

static void lit_scan(const iw_engine_t *e, const range_t *r, int with_contains,
                     scan_ctx_t *c)
{
    int i;
    const unsigned char *v = (const unsigned char *)c->v.p;
    size_t n = c->v.len;
    for (i = 0; i < r->n; i++) {
        const litpat_t *l = &e->lits[r->first + i];
        unsigned char b;
        if (l->open_s && l->open_e && !with_contains) continue;
        /* anchored: one byte decides most values without a call */
        if (!l->len || n < l->len) continue;
        if (!l->open_s || !l->open_e) {
            b = l->open_s ? v[n - 1] : v[0];
            if ((l->caseless ? lower_tab[b] : b) != l->b[l->open_s ? l->len - 1 : 0]) continue;
        }
        if (lit_match(l, v, n))
            on_match((unsigned)l->id, 0, 0, 0, c);
    }
}

static void ex_lookup(const extab_t *x, int lower, scan_ctx_t *c)
{
    const unsigned char *v = (const unsigned char *)c->v.p;
    uint64_t h;
    uint32_t k, i;
    /* most values have a length no exact value has: no hashing then */
    if (c->v.len > x->maxlen) return;
    if (c->v.len < 256 ? !((x->lens[c->v.len >> 6] >> (c->v.len & 63)) & 1) : !x->long_values)
        return;
    h = hash_bytes(v, c->v.len, lower);
    for (k = (uint32_t)h & x->mask; x->t[k].b; k = (k + 1) & x->mask) {
        const exent_t *en = &x->t[k];
        if (en->h != h || en->len != c->v.len) continue;
        for (i = 0; i < en->len; i++)
            if ((lower ? lower_tab[v[i]] : v[i]) != en->b[i]) break;
        if (i == en->len) on_match((unsigned)en->id, 0, 0, 0, c);
    }
}

/* A lazy predicate, on first read in an event: its literals compared
 * against its field (what the scan would have found there). */
static void lazy_eval(const iw_engine_t *e, iw_scratch_t *s, int32_t p)
{
    int32_t i;
    int field = -1;
    iw_str_t v = IW_STR_NULL;
    for (i = e->lz_first[p]; i < e->lz_first[p + 1]; i++) {
        const lazyent_t *z = &e->lz[i];
        if (z->dc >= 0) {
            fcache_t fc = { -1, 0, IW_STR_NULL, 0 };
            if (direct(s, &e->ldc[z->dc], &fc)) {
                pred_set(s, p, z->field);
                return;
            }
            continue;
        }
        if (z->field != field) {
            field = z->field;
            v = iw_event_get(s->ev, (iw_field_id_t)field);
        }
        if (v.p && v.len && lit_match(&z->l, (const unsigned char *)v.p, v.len)) {
            pred_set(s, p, field);
            return;
        }
    }
}

static inline int pred_val(const iw_engine_t *e, iw_scratch_t *s, int32_t p)
{
    if (pred_is_set(s, p)) return 1;
    if (!((e->lazy[p >> 6] >> (p & 63)) & 1) || s->pgen[p] == s->gen) return 0;
    s->pgen[p] = s->gen;
    lazy_eval(e, s, p);
    return pred_is_set(s, p);
}

/* Where the merged header fields lie inside _raw (the request line, then
 * "Name: value\n" per header in order, see iw_event.c): computed from the
 * event's headers and verified byte for byte, so any other layout (or a
 * truncated _raw) only costs the separate scans. */
static void find_segments(iw_event_t *ev, iw_str_t raw, segment_t *seg)
{
    const char *nl;
    size_t off;
    int k, i;

    for (k = 0; k < NMERGE; k++) seg[k].ok = 0;
    if (!raw.p || !(nl = memchr(raw.p, '\n', raw.len))) return;
    for (k = 0; k < NMERGE; k++) {
        iw_str_t v = ev->val[merge_fields[k]];
        if (!v.p || !v.len) continue;
        off = (size_t)(nl - raw.p) + 1;
        for (i = 0; i < ev->nhdrs; i++) {
            if (ev->hdr_values[i].p == v.p && ev->hdr_values[i].len == v.len) break;
            off += ev->hdr_names[i].len + 2 + ev->hdr_values[i].len + 1;
        }
        if (i == ev->nhdrs) continue;
        off += ev->hdr_names[i].len + 2;
        if (off <= raw.len && v.len <= raw.len - off && !memcmp(raw.p + off, v.p, v.len)) {
            seg[k].off = off;
            seg[k].len = v.len;
            seg[k].ok = 1;
        }
    }
}

/* Which database scans c->v (NULL: only the exact and literal checks). */
static hs_database_t *field_db(const fieldm_t *fm, const scan_ctx_t *c, int short_small)
{
    size_t n = c->v.len;
    if (fm->merged && c->seg[merge_slot(c->field)].ok)
        return fm->rest && n >= fm->rest_minw ? fm->rest : NULL;
    if (!fm->db || short_small || n < fm->db_minw) return NULL;
    if (fm->plain_mode != PLAIN_OFF && iw_plain_value(c->v.p, n))
        return fm->plain_mode == PLAIN_DB && n >= fm->plain_minw ? fm->plain : NULL;
    return fm->db;
}

/* Every matcher of one field on c->v. */
/* A Vectorscan scan that failed (scratch in use, out of memory, a bad
 * database): every predicate of a pattern of that field is in doubt. */
static void __attribute__((cold)) scan_failed(const iw_engine_t *e, iw_scratch_t *s,
                                              scan_ctx_t *c, int rc)
{
    int32_t id, i;

    s->nscan_errors++;
    if (c->rec) c->rec->overflow = 1;
    for (id = 0; id < e->npatterns; id++) {
        if (e->pat_field[id] != c->field) continue;
        for (i = e->pat_act_first[id]; i < e->pat_act_first[id + 1]; i++) {
            int32_t a = e->acts[i];
            pred_error(s, a >= 0 ? a : e->rx[-1 - a].pred, c->field, IW_EVAL_SCAN_FAILED);
        }
    }
    for (i = 0; c->field == IW_F_RAW && i < e->nconf; i++)    /* merged literals */
        for (id = e->pat_act_first[e->conf[i].pat]; id < e->pat_act_first[e->conf[i].pat + 1]; id++)
            if (e->acts[id] >= 0) pred_error(s, e->acts[id], e->conf[i].field, IW_EVAL_SCAN_FAILED);
    (void)rc;
}

static void scan_field(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c,
                       const fieldm_t *fm, hs_database_t *db, int short_small)
{
    hs_error_t rc;

    if (fm->ex[0].n) ex_lookup(&fm->ex[0], 1, c);
    if (fm->ex[1].n) ex_lookup(&fm->ex[1], 0, c);
    if (fm->lits.n) lit_scan(e, &fm->lits, short_small, c);
    if (db && (rc = hs_scan(db, c->v.p, (unsigned)c->v.len, 0, s->hs, on_match, c)) != HS_SUCCESS)
        scan_failed(e, s, c, (int)rc);
}

/* The context a field's result depends on besides its bytes: for _raw,
 * where the merged fields lie (confined literals count only there). */
static size_t seg_key(const scan_ctx_t *c, uint32_t *out)
{
    int k;
    for (k = 0; k < NMERGE; k++) {
        out[3 * k] = (uint32_t)c->seg[k].ok;
        out[3 * k + 1] = c->seg[k].ok ? (uint32_t)c->seg[k].off : 0;
        out[3 * k + 2] = c->seg[k].ok ? (uint32_t)c->seg[k].len : 0;
    }
    return sizeof(uint32_t) * 3 * NMERGE;
}

/* scan_field through the scan-result cache: only fields that need a
 * Vectorscan call are worth a lookup.  The key is (event type, field,
 * database, segments for _raw, bytes), everything scan_field reads. */
static void scan_field_cached(const iw_engine_t *e, iw_scratch_t *s, scan_ctx_t *c, int ti)
{
    const fieldm_t *fm = &e->fm[ti][c->field];
    int short_small = fm->small && c->v.len <= LIT_MAX_CONTAINS_LEN, k;
    hs_database_t *db = field_db(fm, c, short_small);
    uint32_t segs[3 * NMERGE];
    iw_scache_key_t key;
    const iw_scache_res_t *hit;
    iw_scache_res_t rec;
    size_t rlen;

    /* the tag's low bits are the field: each field is its own class */
    key.tag = (uint32_t)c->field | (uint32_t)ti << 8 | (db == fm->rest ? 1u << 9 : 0);
    if (!s->sc || !db || !iw_scache_wanted(s->sc, key.tag)) {
        scan_field(e, s, c, fm, db, short_small);
        return;
    }
    key.pre = segs;
    key.npre = (c->field == IW_F_RAW && e->nconf) ? seg_key(c, segs) : 0;
    key.v = c->v.p;
    key.n = c->v.len;
    if (!iw_scache_key(&key)) {
        scan_field(e, s, c, fm, db, short_small);
        return;
    }
    if ((hit = iw_scache_get(s->sc, &key, &rlen))) {
        for (k = 0; k < hit->n; k++) pred_set(s, hit->pred[k], hit->field[k]);
        return;
    }
    rec.n = rec.overflow = 0;
    c->rec = &rec;
    scan_field(e, s, c, fm, db, short_small);
    c->rec = NULL;
    if (!rec.overflow) iw_scache_put(s->sc, &key, &rec, sizeof(rec));
}

/* Scan phase: set every predicate that holds for the event. */
static void scan_event(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev)
{
    unsigned type = ev->type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS;
    int ti = type_index(type), i;
    scan_ctx_t c;
    fcache_t fc = { -1, 0, IW_STR_NULL, 0 };
    const dcheck_t *last = NULL;
    int last_res = 0;

    c.s = s;
    c.field = 0;
    c.v = IW_STR_NULL;
    if (e->merge && ti == 0) find_segments(ev, iw_event_get(ev, IW_F_RAW), c.seg);
    else memset(c.seg, 0, sizeof(c.seg));

    c.rec = NULL;
    for (i = 0; i < e->nscan[ti]; i++) {
        int f = e->scan_fields[ti][i];
        iw_str_t v = iw_event_get(ev, (iw_field_id_t)f);
        if (!v.p || !v.len) continue;  /* empty-matching patterns are direct checks */
        c.field = f;
        c.v = v;
        scan_field_cached(e, s, &c, ti);
    }
    for (i = 0; i < e->nrxall; i++) {
        const rxalways_t *ra = &e->rxall[i];
        iw_str_t v;
        if (!(ra->types & type) || pred_is_set(s, e->rx[ra->rx].pred)) continue;
        v = iw_event_get(ev, (iw_field_id_t)ra->field);
        if (v.p) {
            int rc = run_regex(s, &e->rx[ra->rx], v);
            if (rc > 0) pred_set(s, e->rx[ra->rx].pred, ra->field);
            else if (rc < 0) pred_error(s, e->rx[ra->rx].pred, ra->field, rc);
        }
    }
    for (i = 0; i < e->nradix; i++) {
        int f = e->radix_fields[i];
        uint8_t addr[16];
        iw_str_t v;
        if (!(e->radix_types[f] & type)) continue;
        v = iw_event_get(ev, (iw_field_id_t)f);
        if (!v.p || !iw_ip_parse(v.p, v.len, addr)) continue;
        c.field = f;
        iw_radix_lookup(e->radix[f], addr, on_cidr, &c);
    }
    for (i = 0; i < e->ndc; i++) {
        const dcheck_t *d = &e->dc[i];
        if (!(d->types & type) || pred_is_set(s, d->pred)) continue;
        if (!last || dcheck_key_cmp(last, d)) {
            last = d;
            last_res = direct(s, d, &fc);
        }
        if (last_res) pred_set(s, d->pred, d->field);
    }
}

static int eval_item(const iw_engine_t *e, iw_scratch_t *s, const citem_t *it)
{
    int r, k;
    for (r = 0; r < it->rows.n; r++) {
        const range_t *row = &e->rows[it->rows.first + r];
        for (k = 0; k < row->n; k++) {
            int32_t t = e->terms[row->first + k];
            if (pred_val(e, s, t >> 1) == (t & 1)) break;
        }
        if (k == row->n) return 1;
    }
    return 0;
}

static int eval_group(const iw_engine_t *e, iw_scratch_t *s, int32_t g)
{
    const range_t *gr = &e->groups[g];
    int i;
    for (i = 0; i < gr->n; i++)
        if (!eval_item(e, s, &e->items[gr->first + i])) return 0;
    return 1;
}

static int eval_sel(const iw_engine_t *e, iw_scratch_t *s, int32_t sel)
{
    const range_t *sr = &e->sels[sel];
    int g;
    for (g = 0; g < sr->n; g++)
        if (eval_group(e, s, sr->first + g)) return 1;
    return 0;
}

static int eval_node(const iw_engine_t *e, iw_scratch_t *s, int32_t ni)
{
    const cnode_t *n = &e->nodes[ni];
    int i;
    switch (n->type) {
    case N_SEL: return eval_sel(e, s, n->a);
    case N_AND:
        for (i = 0; i < n->n; i++) if (!eval_node(e, s, e->kids[n->a + i])) return 0;
        return 1;
    case N_OR:
        for (i = 0; i < n->n; i++) if (eval_node(e, s, e->kids[n->a + i])) return 1;
        return 0;
    default:
        return !eval_node(e, s, e->kids[n->a]);
    }
}

static void add_evidence(iw_scratch_t *s, iw_hit_t *h, int field)
{
    int i;
    if (h->nmatches >= IW_MAX_MATCHES_PER_HIT) return;
    for (i = 0; i < h->nmatches; i++) if (h->matches[i].field == field) return;
    h->matches[h->nmatches].field = field;
    h->matches[h->nmatches].value = iw_event_get(s->ev, (iw_field_id_t)field);
    h->nmatches++;
}

/* Evidence: the fields of the set positive terms of true rows, under the
 * true, non-negated parts of the condition. */
static void evidence_sel(const iw_engine_t *e, iw_scratch_t *s, int32_t sel, iw_hit_t *h)
{
    const range_t *sr = &e->sels[sel];
    int g, i, r, k;
    for (g = 0; g < sr->n; g++) {
        const range_t *gr = &e->groups[sr->first + g];
        if (!eval_group(e, s, sr->first + g)) continue;
        for (i = 0; i < gr->n; i++) {
            const citem_t *it = &e->items[gr->first + i];
            for (r = 0; r < it->rows.n; r++) {
                const range_t *row = &e->rows[it->rows.first + r];
                int ok = 1;
                for (k = 0; k < row->n && ok; k++) {
                    int32_t t = e->terms[row->first + k];
                    ok = pred_val(e, s, t >> 1) != (t & 1);
                }
                if (!ok) continue;
                for (k = 0; k < row->n; k++) {
                    int32_t t = e->terms[row->first + k];
                    add_evidence(s, h, (t & 1) ? it->field : s->pfield[t >> 1]);
                }
                break;
            }
        }
        return;
    }
}

static void evidence_node(const iw_engine_t *e, iw_scratch_t *s, int32_t ni, iw_hit_t *h)
{
    const cnode_t *n = &e->nodes[ni];
    int i;
    if (n->type == N_SEL) { evidence_sel(e, s, n->a, h); return; }
    if (n->type == N_NOT) return;
    for (i = 0; i < n->n; i++) {
        int32_t k = e->kids[n->a + i];
        if (eval_node(e, s, k)) evidence_node(e, s, k, h);
    }
}

static void cand_add(iw_scratch_t *s, int32_t r)
{
    if (s->rgen[r] == s->gen) return;
    s->rgen[r] = s->gen;
    s->cand[s->ncand++] = r;
}

/* Candidates in rule order, so hits come out in load order (shell sort:
 * in place, no allocation). */
static void cand_sort(int32_t *a, int n)
{
    int gap, i, j;
    for (gap = n / 2; gap > 0; gap /= 2)
        for (i = gap; i < n; i++) {
            int32_t v = a[i];
            for (j = i; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
            a[j] = v;
        }
}

/* ---- event cache --------------------------------------------------------- */

/* An event's hits as the cache keeps them: rule (crule index) and the
 * fields of its evidence (the values are the new event's, equal bytes). */
#define EVC_MAX_HITS 7
typedef struct evc_hit { int32_t rule; uint8_t n, field[IW_MAX_MATCHES_PER_HIT]; } evc_hit_t;
typedef struct evc_res { int32_t n; evc_hit_t h[EVC_MAX_HITS]; } evc_res_t;
_Static_assert(sizeof(evc_res_t) <= IW_SCACHE_MAX_RES, "event cache result too big");
_Static_assert(sizeof(iw_scache_res_t) <= IW_SCACHE_MAX_RES, "scan cache result too big");
_Static_assert(IW_F__COUNT <= IW_SCACHE_CLASSES, "one cache class per field");

/* Key writer: one room check per item, then plain copies (the key is
 * built for every event, cached or not). */
typedef struct kbuf { unsigned char *o, *end; } kbuf_t;

static inline int kroom(const kbuf_t *k, size_t n) { return (size_t)(k->end - k->o) >= n; }

static inline int kput(kbuf_t *k, const void *b, size_t n)
{
    if (!kroom(k, n)) return 0;
    memcpy(k->o, b, n);
    k->o += n;
    return 1;
}

/* Copy n bytes: key items are mostly a few to a dozen bytes (a header's
 * name, "1", "navigate"), where a library call costs more than the copy:
 * up to 16 bytes as two overlapping moves, longer ones (a cookie, a user
 * agent) through memcpy's vector loop. */
static inline void kcopy(unsigned char *o, const char *p, size_t n)
{
    uint64_t w, x;
    uint32_t a, b;

    if (n > 16) {
        memcpy(o, p, n);
    } else if (n >= 8) {
        memcpy(&w, p, 8);
        memcpy(&x, p + n - 8, 8);
        memcpy(o, &w, 8);
        memcpy(o + n - 8, &x, 8);
    } else if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else if (n) {                /* 1-3 bytes: first, middle, last */
        o[0] = (unsigned char)p[0];
        o[n >> 1] = (unsigned char)p[n >> 1];
        o[n - 1] = (unsigned char)p[n - 1];
    }
}

/* A string as length + bytes; absent (UINT32_MAX) differs from empty. */
static inline int kput_str(kbuf_t *k, iw_str_t v)
{
    uint32_t len = v.p ? (uint32_t)v.len : UINT32_MAX;
    if (!kroom(k, 4 + (v.p ? v.len : 0))) return 0;
    memcpy(k->o, &len, 4);
    k->o += 4;
    if (v.p) {
        kcopy(k->o, v.p, v.len);
        k->o += v.len;
    }
    return 1;
}

/* A number as a mark that is never a string length, then its value. */
static inline int kput_num(kbuf_t *k, int64_t v)
{
    uint32_t mark = UINT32_MAX - 1;
    if (!kroom(k, 12)) return 0;
    memcpy(k->o, &mark, 4);
    memcpy(k->o + 4, &v, 8);
    k->o += 12;
    return 1;
}

/* What follows the fields in both key layouts (event_key, request_key):
 * the header list and the minute or second when rules need them.  The
 * writer comes by value and the new end goes back (NULL: no room): the
 * key's byte stores cannot alias a local, so its position stays in a
 * register (through a kbuf_t * it was reloaded after every store, a third
 * of the work for a browser's header list), also in the callers. */
IW_HOT
static unsigned char *key_tail(const iw_engine_t *e, int ti, kbuf_t k, const iw_str_t *names,
                               const iw_str_t *values, int nhdrs, apr_time_t t)
{
    int i, ok = 1;
    if (e->evk_hdrs[ti]) {         /* name, value, name, ...: one copy of kput_str's code */
        ok = kput(&k, &nhdrs, sizeof(nhdrs));
        for (i = 0; ok && i < 2 * nhdrs; i++)
            ok = kput_str(&k, (i & 1) ? values[i >> 1] : names[i >> 1]);
    }
    if (ok && e->evk_time)
        ok = kput_num(&k, (int64_t)(t / (60 * (apr_time_t)APR_USEC_PER_SEC)));
    if (ok && e->evk_secs[ti])
        ok = kput_num(&k, (int64_t)(t / APR_USEC_PER_SEC));
    return ok ? k.o : NULL;
}

/* The event's key bytes: type, then every field the matchers read (with
 * its number), the header list and the minute or second when rules need
 * them.  0 when the event is too big to cache or its views could be cut
 * short by the work buffer (then results could depend on what is not
 * keyed). */
static size_t event_key(const iw_engine_t *e, const iw_event_t *ev, int ti, unsigned char *buf)
{
    kbuf_t k = { buf, buf + IW_SCACHE_MAX_KEY };
    int req = ti == 0 && ev->from_request, f, ok = 1;
    uint64_t m = req ? e->evk_req : e->evk_fields[ti];
    size_t n;

    *k.o++ = (unsigned char)(ti | req << 1);     /* which layout follows */
    for (; m && ok; m &= m - 1) {
        f = __builtin_ctzll(m);
        ok = (ev->have_num & FBIT(f)) ? kput_num(&k, ev->num[f])   /* the text is the number's */
                                      : kput_str(&k, ev->val[f]);
    }
    if (!ok || !(k.o = key_tail(e, ti, k, ev->hdr_names, ev->hdr_values, ev->nhdrs, ev->time)))
        return 0;
    n = (size_t)(k.o - buf);
    if (ev->buf_used + 6 * n + 1024 > ev->buf_size) return 0;
    return n;
}

/* Evidence values are read from s->ev, the event being evaluated. */
static int evc_replay(const iw_engine_t *e, iw_scratch_t *s, const evc_res_t *r)
{
    int i, j;
    for (i = 0; i < r->n; i++) {
        iw_hit_t *h = &s->hits[i];
        h->rule = e->rules[r->h[i].rule].rule;
        h->nmatches = 0;
        for (j = 0; j < r->h[i].n; j++) add_evidence(s, h, r->h[i].field[j]);
    }
    s->nevents++;
    return r->n;
}

static void evc_store(iw_scratch_t *s, const iw_scache_key_t *key, const int32_t *idx, int nhits)
{
    evc_res_t r;
    int i, j;

    if (nhits > EVC_MAX_HITS) return;
    memset(&r, 0, sizeof(r));
    r.n = nhits;
    for (i = 0; i < nhits; i++) {
        r.h[i].rule = idx[i];
        r.h[i].n = (uint8_t)s->hits[i].nmatches;
        for (j = 0; j < s->hits[i].nmatches; j++)
            r.h[i].field[j] = (uint8_t)s->hits[i].matches[j].field;
    }
    iw_scache_put(s->evc, key, &r, sizeof(r));
}

/* One planned field of a request key, as event_key writes it. */
IW_HOT
static int rkey_put(kbuf_t *k, const iw_request_desc_t *d, rkey_item_t it)
{
    const char *p = (const char *)d + it.off;
    int64_t v = 0;
    int x, num = 0;

    switch (it.kind) {
    case RK_STR: return kput_str(k, *(const iw_str_t *)(const void *)p);
    case RK_INT: memcpy(&x, p, sizeof(x)); v = x; num = x > 0; break;
    case RK_I64: memcpy(&v, p, sizeof(v)); num = v >= 0; break;
    default:     break;
    }
    return num ? kput_num(k, v) : kput_str(k, IW_STR_NULL);
}

/* What event_key writes for the event iw_event_from_request builds from
 * d, read from d itself: the same bytes, so both share cache entries (the
 * plan only allows it when every keyed field is copied, numeric or unset,
 * evk_req_desc).  The builder uses no work buffer: the room check is on
 * the empty buffer. */
IW_HOT
static size_t request_key(const iw_engine_t *e, const iw_request_desc_t *d,
                          size_t buf_size, unsigned char *buf, size_t room)
{
    kbuf_t k = { buf, buf + room };
    /* the builder's header count (iw_event_from_request) */
    int nhdrs = (d->hdr_names && d->hdr_values && d->nhdrs > 0) ? d->nhdrs : 0, ok = 1, i;
    size_t n;

    if (d->dropped) return 0;                     /* iw-truncated: not a function of the key */
    *k.o++ = (unsigned char)(0 | 1 << 1);        /* event_key's layout byte: access, from a request */
    for (i = 0; i < e->nrkey && ok; i++) ok = rkey_put(&k, d, e->rkey[i]);
    if (!ok || !(k.o = key_tail(e, 0, k, d->hdr_names, d->hdr_values, nhdrs, d->time)))
        return 0;
    n = (size_t)(k.o - buf);
    if (6 * n + 1024 > buf_size) return 0;
    return n;
}

/* Start evaluating ev: forget the previous event's predicates. */
static void scratch_begin(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev)
{
    int i;
    for (i = 0; i < s->ntouched; i++) {
        int32_t p = s->touched[i];
        s->bits[p >> 6] &= ~((uint64_t)1 << (p & 63));
    }
    s->ntouched = 0;
    s->ev = ev;
    s->tm_ok = 0;
    s->nerrp = s->nerrs = 0;
    if (++s->gen == 0) {
        memset(s->rgen, 0, sizeof(uint32_t) * (size_t)e->ncrules);
        memset(s->pgen, 0, sizeof(uint32_t) * (size_t)e->npreds);
        memset(s->errgen, 0, sizeof(uint32_t) * (size_t)e->npreds);
        memset(s->rerrgen, 0, sizeof(uint32_t) * (size_t)e->ncrules);
        s->gen = 1;
    }
}

/* The event cache's result for key bytes key->v[0..key->n), or NULL;
 * key->n becomes 0 when the key cannot be cached. */
IW_HOT
static const evc_res_t *evc_find(iw_scratch_t *s, iw_scache_key_t *key)
{
    size_t rlen;
    key->tag = 0;
    key->pre = NULL;
    key->npre = 0;
    if (!iw_scache_key(key)) { key->n = 0; return NULL; }
    return iw_scache_get(s->evc, key, &rlen);
}

static void err_bits(iw_scratch_t *s, const uint8_t *forced, int on)
{
    int k;
    for (k = 0; k < s->nerrp; k++) {
        int32_t p = s->errp[k];
        if (!forced[k]) continue;
        if (on) s->bits[p >> 6] |= (uint64_t)1 << (p & 63);
        else s->bits[p >> 6] &= ~((uint64_t)1 << (p & 63));
    }
}

/* The event had predicates that could not be computed (s->errp).  A rule
 * reading one that did not match, but would with those predicates true
 * (and is not excluded by its filters as they were computed), could not be
 * evaluated: padding past a limit must not look like "no match".  Such
 * rules go to s->errs and their counters.  Cold: only events with errors. */
static void __attribute__((cold, noinline)) eval_errors(const iw_engine_t *e, iw_scratch_t *s,
                                                         unsigned type, int nhits)
{
    uint8_t forced[256];
    int k, i, j, n = s->nerrp < 256 ? s->nerrp : 256;

    s->nerrp = n;
    for (k = 0; k < n; k++) {
        forced[k] = !pred_is_set(s, s->errp[k]);
        if (forced[k]) pred_set(s, s->errp[k], s->errp_field[k]);
    }
    for (k = 0; k < n; k++) {
        int32_t p = s->errp[k];
        for (i = e->rd_first[p]; i < e->rd_first[p + 1]; i++) {
            int32_t r = e->rd_rules[i];
            const crule_t *cr = &e->rules[r];
            int dropped = 0, f;
            if (s->rerrgen[r] == s->gen) continue;
            s->rerrgen[r] = s->gen;
            if (!(cr->applies & type)) continue;
            for (j = 0; j < nhits && s->hits[j].rule != cr->rule; j++) ;
            if (j < nhits || !eval_node(e, s, cr->root)) continue;
            err_bits(s, forced, 0);
            for (f = 0; f < cr->filters.n && !dropped; f++)
                dropped = !eval_node(e, s, e->rules[e->filt[cr->filters.first + f]].root);
            err_bits(s, forced, 1);
            if (dropped) continue;
            s->errs[s->nerrs].rule = cr->rule;
            s->errs[s->nerrs].field = s->errp_field[k];
            s->errs[s->nerrs++].code = s->errp_code[k];
            s->neval_errors++;
            if (cr->rule->index >= 0 && cr->rule->index < e->nrs) s->rule_errs[cr->rule->index]++;
        }
    }
}

/* Scan and evaluate the event (a cache miss); stores the hits under key
 * when it has bytes. */
static int eval_fresh(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                      unsigned type, const iw_scache_key_t *key)
{
    int32_t idx[EVC_MAX_HITS];
    int i, nhits = 0;

    scan_event(e, s, ev);
    s->ncand = 0;
    for (i = 0; i < s->ntouched; i++) {
        int32_t p = s->touched[i], k;
        for (k = e->trig_first[p]; k < e->trig_first[p + 1]; k++) cand_add(s, e->trig_rules[k]);
    }
    for (i = 0; i < e->nalways; i++) cand_add(s, e->always[i]);
    cand_sort(s->cand, s->ncand);
    s->nevents++;
    s->ncandidates += (uint64_t)s->ncand;

    for (i = 0; i < s->ncand; i++) {
        const crule_t *cr = &e->rules[s->cand[i]];
        iw_hit_t *h;
        int f, dropped = 0;
        if (!(cr->applies & type) || !eval_node(e, s, cr->root)) continue;
        /* Sigma filters as pySigma applies them: the rule's condition is
         * ANDed with each filter's, so exclusions read "condition: not x". */
        for (f = 0; f < cr->filters.n && !dropped; f++)
            dropped = !eval_node(e, s, e->rules[e->filt[cr->filters.first + f]].root);
        if (dropped) continue;
        if (nhits < EVC_MAX_HITS) idx[nhits] = s->cand[i];
        h = &s->hits[nhits++];
        h->rule = cr->rule;
        h->nmatches = 0;
        evidence_node(e, s, cr->root, h);
    }
    if (s->nerrp) {
        eval_errors(e, s, type, nhits);
        return nhits;              /* not cached: a repeat must report them again */
    }
    /* a truncated event's views depend on its buffer, not only the key */
    if (key->n && !(ev->have_num & FBIT(IW_F_IW_TRUNCATED))) evc_store(s, key, idx, nhits);
    return nhits;
}

int iw_engine_eval(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                   const iw_hit_t **hits)
{
    iw_scache_key_t key;
    const evc_res_t *cached;
    unsigned type;

    if (hits) *hits = s ? s->hits : NULL;
    if (!e || !s || !ev || s->e != e) return 0;
    type = ev->type == IW_EV_ERROR ? IW_EV_ERROR : IW_EV_ACCESS;
    scratch_begin(e, s, ev);
    key.n = 0;
    key.v = s->kbuf;
    if (s->evc && iw_scache_wanted(s->evc, 0)
        && (key.n = event_key(e, ev, type_index(type), s->kbuf))
        && (cached = evc_find(s, &key)))
        return evc_replay(e, s, cached);
    return eval_fresh(e, s, ev, type, &key);
}

IW_HOT
int iw_engine_eval_request(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev,
                           iw_request_desc_t *d, const iw_hit_t **hits)
{
    /* on the stack, as large as any cached key (built once, never
     * retried; only the lines written are touched, and the stack is
     * warm where the scratch's buffer would be cold) */
    unsigned char kb[IW_SCACHE_MAX_KEY];
    iw_scache_key_t key;
    const evc_res_t *cached = NULL;

    if (hits) *hits = s ? s->hits : NULL;
    if (!e || !s || !ev || !d || s->e != e) return 0;
    s->nerrs = 0;                  /* a clean repeat below skips scratch_begin */
    if (!s->evc || !e->evk_req_desc) {
        iw_request_desc_complete(d);
        iw_event_from_request(ev, d);
        return iw_engine_eval(e, s, ev, hits);
    }
    key.n = 0;
    if (iw_scache_wanted(s->evc, 0)) {
        if (d->later & e->rkey_later) iw_request_desc_complete(d);    /* the key reads them */
        key.v = kb;
        if ((key.n = request_key(e, d, ev->buf_size, kb, sizeof(kb)))
            && (cached = evc_find(s, &key)) && cached->n == 0) {
            s->nevents++;               /* a repeat without hits: no event needed */
            return 0;
        }
    }
    iw_request_desc_complete(d);
    iw_event_from_request(ev, d);
    scratch_begin(e, s, ev);
    if (cached) return evc_replay(e, s, cached);
    return eval_fresh(e, s, ev, IW_EV_ACCESS, &key);
}

void iw_engine_stats(const iw_engine_t *e, iw_engine_stats_t *st)
{
    int f;
    memset(st, 0, sizeof(*st));
    if (!e) return;
    st->rules = e->nrules;
    st->filters = e->ncrules - e->nrules;
    st->predicates = e->npreds;
    st->patterns = e->npatterns;
    st->databases = e->ndbs;
    st->regexes = e->nrx;
    st->regexes_unfiltered = e->nrxall;
    st->direct_checks = e->ndc + e->nldc;   /* lazy ones included */
    for (f = 0; f < IW_F__COUNT; f++)
        if (e->radix[f]) st->cidr_nodes += (long)iw_radix_nodes(e->radix[f]);
    st->always_candidates = e->nalways;
    st->merged_literals = e->nconf;
}

void iw_scratch_counters(const iw_scratch_t *s, uint64_t *events, uint64_t *candidates)
{
    if (events) *events = s ? s->nevents : 0;
    if (candidates) *candidates = s ? s->ncandidates : 0;
}

void iw_scratch_cache_counters(const iw_scratch_t *s, uint64_t *hits, uint64_t *misses)
{
    iw_scache_counters(s ? s->sc : NULL, hits, misses);
}

void iw_scratch_event_cache_counters(const iw_scratch_t *s, uint64_t *hits, uint64_t *misses)
{
    iw_scache_counters(s ? s->evc : NULL, hits, misses);
}

/* ---- evaluation errors ------------------------------------------------------ */

int iw_engine_eval_errors(const iw_scratch_t *s, const iw_eval_error_t **errs)
{
    if (errs) *errs = s ? s->errs : NULL;
    return s ? s->nerrs : 0;
}

const char *iw_eval_error_reason(int code)
{
    switch (code) {
    case PCRE2_ERROR_MATCHLIMIT: return "regex match limit";
    case PCRE2_ERROR_DEPTHLIMIT: return "regex depth limit";
    case PCRE2_ERROR_HEAPLIMIT: return "regex heap limit";
    case PCRE2_ERROR_JIT_STACKLIMIT: return "regex JIT stack limit";
    case PCRE2_ERROR_NOMEMORY: return "regex out of memory";
    case IW_EVAL_SCAN_FAILED: return "Vectorscan scan failed";
    default: return "regex error";
    }
}

/* One slot per (rule, client) hash: held back when it holds the same key
 * and minute (an alert for them went out this minute from this scratch). */
int iw_scratch_eval_error_due(iw_scratch_t *s, const iw_eval_error_t *er, iw_event_t *ev)
{
    iw_str_t ip = ev ? iw_event_get(ev, IW_F_C_IP) : IW_STR_NULL;
    int64_t minute = ev ? (int64_t)(ev->time / (60 * (apr_time_t)APR_USEC_PER_SEC)) : 0;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(uint32_t)er->rule->index;
    size_t i, slot;

    for (i = 0; i < ip.len; i++) h = (h ^ (unsigned char)ip.p[i]) * 0x100000001b3ull;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;   /* mix: FNV's top bits barely move */
    h |= 1;                         /* 0 marks an empty slot */
    slot = (size_t)(h >> 56);
    if (s->lim[slot].key == h && s->lim[slot].minute == minute) {
        s->nerr_held++;
        return 0;
    }
    s->lim[slot].key = h;
    s->lim[slot].minute = minute;
    return 1;
}

void iw_scratch_error_counters(const iw_scratch_t *s, iw_eval_counters_t *c)
{
    memset(c, 0, sizeof(*c));
    if (!s) return;
    c->regex_errors = s->nrx_errors;
    c->scan_errors = s->nscan_errors;
    c->eval_errors = s->neval_errors;
    c->held = s->nerr_held;
    c->per_rule = s->rule_errs;
    c->nrules = s->e->nrs;
}
