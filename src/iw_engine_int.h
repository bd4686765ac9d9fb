/* SPDX-License-Identifier: Apache-2.0 */
/* iw_engine internals shared by iw_engine_*.c (not an interface): the
 * compiled program (struct iw_engine), the per-thread scratch and the
 * compile-time build state.  iw_engine_compile.c and iw_engine_value.c
 * build the program at config time; iw_engine_eval.c evaluates events
 * with it: the whole hot path (evaluation and the event cache) is one
 * translation unit, because there is no LTO to inline across files.
 *
 * iw_engine: compile the Sigma rule model into matchers, evaluate events.
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
#ifndef IW_ENGINE_INT_H
#define IW_ENGINE_INT_H

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
#include "iw_match_plain.h"
#include "iw_match_pat.h"
#include "iw_match_radix.h"
#include "iw_engine_dbcache.h"
#include "iw_engine_memo.h"
#include "iw_param.h"

#define MAX_SLOTS 4
#define MAX_COND_DEPTH 200
#define MAX_EXPAND 2000000L      /* values one |expand value may produce */
#define MAX_WINDASH 3125         /* permutations before an encoding */
#define NTYPES 2                 /* event types: access, error */
#define EVC_ENTRIES(sc) ((sc) / 8 < 16 ? 16u : (sc) / 8)   /* event cache size */
#define SC_LONG_ENTRIES(sc) ((sc) < 64 ? 0u : (sc))           /* its long region (iw_engine_memo.h) */
/* A client's header lines and cookie come back after hundreds of other
 * requests: their entries are kept apart from the values seen once
 * (iw_engine_memo.h, IW_ENGINE_MEMO_LONG): the raw keys of header lines and
 * of the cookie's per-parameter views, and cs-cookie's value key. */
#define EVFP_SLOTS 256
#define LONGKEY(field) ((field) == IW_F_CS_HEADER_DEC || (field) == IW_F_CP || (field) == IW_F_CP_NAME \
                        || (field) == IW_F_CP_VALUE ? IW_ENGINE_MEMO_LONG : 0u)
#define LONGVAL(field) ((field) == IW_F_CS_COOKIE ? IW_ENGINE_MEMO_LONG : 0u)
#define ALL_TYPES ((unsigned)(IW_EV_ACCESS | IW_EV_ERROR))

/* ---- compiled representation ------------------------------------------- */

typedef struct range { int32_t first, n; } range_t;

enum { N_SEL = 1, N_AND, N_OR, N_NOT };
/* kids: e->kids[a..a+n); N_SEL: a is the selection, n a predicate (not
 * lazy) that every group of it needs as an item of one positive term, the
 * selection false without it (-1: none; engine_publish sets it).  f: N_AND
 * and N_OR whose every kid is a term (a selection of one term, or a not of
 * one, as "selection and not filter"): e->fterms[f - 1 ..] holds the kids'
 * terms in order, a not's negated (0: not so) */
typedef struct cnode { int32_t type, a, n, f; } cnode_t;

/* t1: the item's one term when it has one row of one term (most items), else -1 */
typedef struct citem { range_t rows; int32_t field, t1; } citem_t;

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
    int32_t end;        /* past the last of the sorted checks with the same test */
    int32_t run;        /* first of the equality checks of one number field (a
                         * dozen on sc-status): past the last of them, else 0 */
} dcheck_t;

/* The first check of the run dc[i, dc[i].run) equal to x (sorted by value:
 * the walk goes test by test, see end, and stops at the first larger one),
 * or dc[i].run if none. */
static inline int32_t iw_engine__eq_run_first(const dcheck_t *dc, int32_t i, int64_t x)
{
    int32_t r = dc[i].run;
    while (i < r && dc[i].num < x) i = dc[i].end;
    return i < r && dc[i].num == x ? i : r;
}

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

/* Merged scan (access events; not with the raw split of
 * iw_engine_rawsplit.c, which leaves _raw's header bytes to cs-headers'
 * scan): _raw holds every header, so when _raw is
 * scanned anyway (keyword rules) the substring literals of cs-user-agent
 * and cs-referer are scanned inside it with the keywords, each match
 * checked against where that field lies in _raw (its "segment"): one
 * Vectorscan call fewer per header field, ~10% of the evaluation with the
 * SigmaHQ set.  cs-uri is not merged: its literals are many and short, and
 * without SINGLEMATCH (a literal may first occur outside its segment)
 * their repeated reports across all of _raw cost more than they save. */
#define NMERGE 2
static const int merge_fields[NMERGE] = { IW_F_CS_USER_AGENT, IW_F_CS_REFERER };

/* A literal of one field scanned in another field's database (HS id
 * npatterns + k): a merged literal (slot >= 0, host _raw) counts inside its
 * segment; a literal of _raw in cs-headers' databases (slot -1, the raw
 * split, iw_engine_rawsplit.c) counts anywhere in the block. */
typedef struct confent { int32_t pat, field, len, slot, host; } confent_t;

/* Lazy predicates.  A predicate that triggers no rule (a value of an |all
 * item, a non-trigger item of an AND group, a filter, a |neq term) and
 * whose matchers are all plain literals, regexes or direct checks is not
 * scanned for: it is computed (lit_match, PCRE2, direct) the first time a
 * candidate rule reads it in an event.  Common values like `200` or
 * `/images/`, and filters like "a well-formed query" that match almost
 * every event, then cost nothing on events where no rule needing them is
 * a candidate. */
typedef struct lazyent {
    litpat_t l;
    int32_t field;
    int32_t dc;                    /* >= 0: direct check e->ldc[dc] instead */
    int32_t rx;                    /* >= 0: the regex e->rx[rx] (PCRE2) instead */
} lazyent_t;
typedef struct segment { size_t off, len; int ok; } segment_t;

/* Header lines (iw_engine_lines.c builds, iw_engine_eval.c "header
 * lines" uses): a header block is scanned line by line where that is
 * exact, each line's result cached, because most lines repeat for a
 * client while the block changes with every Referer.  A line is scanned
 * as its window: the LF before it (none for the first line), its bytes and
 * its LF.  Every pattern of the field's database is split into top-level
 * branches and each branch takes one of three ways (iw_match_factor.h):
 * - HL_PAT: a contains literal without LF: scanned per line, exact;
 * - HL_LINE: a line-local branch: scanned per line and confirmed by PCRE2
 *   on the window, exact for the block;
 * - HL_BLOCK: a branch with required literals (scanned per line, a hit
 *   makes it a candidate) or without (in the smaller block database):
 *   PCRE2 confirms the branch on the whole block.
 * Every branch of a pattern matches the block exactly when the pattern
 * does, so the pattern's predicates are set on any branch's match. */
enum { HL_PAT = 1, HL_LINE, HL_BLOCK };
typedef struct hlact {
    int32_t pat;                   /* pattern id: its actions give the predicates */
    int32_t kind;                  /* HL_* */
    pcre2_code *code;              /* HL_LINE, HL_BLOCK: the branch (or whole regex) */
    int jit;
    long pre;                      /* HL_BLOCK found by literals: a match starts at most
                                    * this many bytes before one (-1: no bound) */
} hlact_t;
typedef struct hlines {
    hs_database_t *line_db;        /* per window: literals, factors, line-local branches */
    hs_database_t *block_db;       /* the rest, per block; may be NULL */
    unsigned line_minw, block_minw;
    int32_t first, n;              /* actions e->hl[first..first+n) */
} hlines_t;

/* Matchers of one field for one event type. */
typedef struct fieldm {
    hlines_t *hl;                  /* header lines plan; NULL: db scans the block */
    hs_database_t *rest;           /* merged field: what _raw does not cover */
    int merged;                    /* 1: use rest when the segment is found */
    hs_database_t *db;             /* what is not below; may be NULL */
    unsigned db_minw, rest_minw;   /* shortest match of any pattern of db / rest */
    range_t lits;                  /* affix literals, + contains ones if small */
    int small;                     /* contains literals are in lits too */
    /* the bytes lits' anchored ends hold (a value's first and last byte,
     * lower-cased or not, in neither: no literal to compare), whether
     * lits holds a contains one (engine_publish sets them) */
    uint64_t lit_first[4], lit_last[4];
    int lit_open;
    extab_t ex[2];                 /* [0] caseless, [1] cased */
    /* values of plain bytes only (iw_match_plain.h): PLAIN_DB scans plain,
     * PLAIN_NONE needs no scan, PLAIN_OFF uses db as any value */
    int plain_mode;
    hs_database_t *plain;
    unsigned plain_minw;
    /* byte gate: every match of every pattern of db (and of plain, rest)
     * holds a byte b with gate[b] set; a value without one needs no scan
     * (NULL: some pattern has no such bytes).  IW_GATE_BYTES: the table,
     * then its nibble form (iw_engine__gate_nibbles) */
    const uint8_t *gate;
} fieldm_t;

/* The byte gate (iw_engine_gate.c): its table after its 256 bytes holds
 * its nibble form, for 16 bytes at a time where SSSE3 is. */
#define IW_GATE_BYTES (256 + 32)
#if defined(__x86_64__) && defined(__GNUC__)
#define IW_GATE_SIMD 1
extern int iw_engine__gate_ssse3;
int iw_engine__gate_open16(const uint8_t *g, const unsigned char *p, size_t n);
#endif

enum { PLAIN_OFF, PLAIN_DB, PLAIN_NONE };

/* One field of a request's cache key (request_key): where its value is
 * in an iw_request_desc_t and how event_key writes it for the event built
 * from that description. */
enum { RK_STR, RK_INT, RK_I64, RK_NULL,    /* RK_INT keyed when > 0, RK_I64 when >= 0 */
       RK_DERIVED };                         /* not from one member: no request key */
typedef struct rkey_item { uint16_t off; uint8_t kind, field; } rkey_item_t;

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
    int32_t *fterms;               /* the kids' terms of N_AND, N_OR nodes (cnode_t.f) */
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
    int raw_split;                 /* _raw's literals in cs-headers' databases: _raw
                                    * scans only what precedes the block (iw_engine_rawsplit.c) */
    int32_t *pat_act_first;        /* per pattern id, CSR into acts (n+1) */
    int32_t *acts;                 /* >= 0 pred, < 0: regex check -1-a */
    hs_scratch_t *proto;
    rxcheck_t *rx; int nrx;
    apr_array_header_t *codes;     /* pcre2_code*: every compiled regex */
    rxalways_t *rxall; int nrxall;
    dcheck_t *dc; int ndc;
    iw_match_radix_t *radix[IW_F__COUNT];
    unsigned radix_types[IW_F__COUNT];
    int32_t radix_fields[IW_F__COUNT]; int nradix;   /* fields with a tree */
    /* candidate pruning */
    int32_t *trig_first;           /* per pred, CSR into trig_rules (n+1) */
    int32_t *trig_rules;
    int32_t *always; int nalways;
    int npatterns;
    /* lazy predicates: computed only when a candidate reads them */
    uint64_t *lazy;                /* bit per pred */
    int8_t *lzlit;                 /* per pred: a lazy one of literals on one single-
                                    * valued field only (iw_engine__lazy_lit_only; s->lzm):
                                    * that field, else -1 */
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
    int nrkey, nrkey_str;          /* (the strings first: nrkey_str of them) */
    /* evaluation errors: which detection rules read each predicate (CSR,
     * through their filters too), and each pattern's field */
    int32_t *rd_first, *rd_rules;
    int8_t *pat_field;
    int nrs;                       /* rules in the ruleset (rule->index bound) */
    hlact_t *hl; int nhl;          /* header-line actions of every field */
    /* the databases of cs-uri and cs-uri-decoded as one, the plain ones
     * ([0]) and the whole ones ([1]): one scan for both when the decoded
     * view is the target's bytes and each takes that database (scan_uri);
     * [2]: the plain ones and cs-uri-stem-decoded's (no query: one view) */
    hs_database_t *uri_both[3];   /* built for fields without a line plan, _raw's merged literals
                                     or small-field literals (scan_field's other ways) */
};

/* The access fields that are functions of cs-uri's bytes and the method
 * (iw_event_uri_source): scanned through one scan-cache entry keyed by the
 * target (iw_engine_eval.c, scan_uri). */
#define URI_FIELDS (FBIT(IW_F_CS_URI_STEM) | FBIT(IW_F_CS_URI_QUERY) | FBIT(IW_F_CS_URI)      \
                    | FBIT(IW_F_CS_URI_DEC) | FBIT(IW_F_CS_URI_STEM_DEC) | FBIT(IW_F_CS_URI_QUERY_DEC))
/* Of those, the path's and the query's: a target that misses its entry
 * often repeats its path (another query) or its query (another path), so
 * scan_uri scans these through entries of their own. */
#define URI_PART_FIELDS (FBIT(IW_F_CS_URI_STEM) | FBIT(IW_F_CS_URI_STEM_DEC)                     \
                         | FBIT(IW_F_CS_URI_QUERY) | FBIT(IW_F_CS_URI_QUERY_DEC))

#define LZM_SLOTS 16
#define LZM_BYTES 25
typedef struct lzm_slot { int32_t tag; uint8_t len, res; char b[LZM_BYTES]; } lzm_slot_t;
struct iw_scratch {
    /* first: all a clean repeated request reads (iw_engine_eval_request) */
    const iw_engine_t *e;
    iw_engine_memo_t *evc;              /* hits of recent whole events; NULL = off */
    unsigned char *kbuf;           /* event key being built */
    iw_hit_t *hits;
    uint64_t nevents, ncandidates;
    hs_scratch_t *hs;
    pcre2_match_data *md;
    uint64_t *bits;
    uint8_t *pfield;               /* field that set each predicate */
    iw_str_t *pval;                /* multi-valued field: the value that set it */
    uint32_t *pvgen;               /* ... valid in event gen */
    int32_t *touched; int ntouched;
    uint32_t *rgen; uint32_t gen;
    uint32_t *pgen;                /* lazy pred computed in event gen */
    int32_t *cand; int ncand;
    /* per event */
    iw_event_t *ev;
    int tm_ok;
    struct tm tm;
    iw_engine_memo_t *sc;               /* scan results of recent values; NULL = off */
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
    uint32_t *hlgen; uint32_t hlg; /* header-line action done in block scan hlg */
    uint32_t *rxgen; uint32_t rxg; /* regex confirmation already run on the value of scan rxg */
    /* this event's long values hashed (iw_engine_memo_hash64 seed 0): a
     * value keyed under several tags (the header block) hashed once */
    struct { const void *p; size_t n; uint64_t h; } vh[4]; unsigned nvh;
    uint64_t uri_scan;             /* access scan fields derived from cs-uri (scan_uri) */
    char *dbuf;                    /* this event's header lines decoded one by one
                                    * (scan_header_dec_raw), HDR_DEC_BUF bytes */
    /* lazy predicates of literals on one single-valued field (a method or
     * version filter): the result for the last value seen, by its bytes
     * (lazy_eval); tag: pred + 1, 0 = empty */
    lzm_slot_t lzm[LZM_SLOTS];
    /* while the event cache pauses: recent requests' fingerprints, a slot
     * each by their low bits (iw_engine__evc_repeat) */
    uint64_t evfp[EVFP_SLOTS];
};

/* An event's predicates (the scratch's bits): set once per event, with the
 * field credited and in the list scratch_begin clears. */
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

/* A rule's condition node on the event's predicates (iw_engine_eval.c's
 * eval_node, passed to the files it calls). */
typedef int (*iw_eval_node_fn)(const iw_engine_t *e, iw_scratch_t *s, int32_t ni);
/* iw_engine_errors.c, cold.  A predicate whose matcher could not run on
 * this event (a regex past a limit, a failed scan): recorded once per
 * event; the rules reading it are checked after the evaluation. */
void iw_engine__pred_error(iw_scratch_t *s, int32_t p, int field, int code);
/* A Vectorscan scan of field that failed (scratch in use, out of memory, a
 * bad database): every predicate of a pattern of that field is in doubt;
 * rec (may be NULL): the scan's record for the cache, not to be stored. */
void iw_engine__scan_failed(const iw_engine_t *e, iw_scratch_t *s, int field,
                            iw_engine_memo_res_t *rec, int rc);
/* The rules that could not be evaluated because the event had predicates
 * that could not be computed (s->errp). */
void iw_engine__eval_errors(const iw_engine_t *e, iw_scratch_t *s, unsigned type, int nhits,
                            iw_eval_node_fn eval_node) __attribute__((cold, noinline));
#define HDR_DEC_BUF 8192

/* ---- helpers of both sides (inline: the hot path calls them) ------------ */

/* a field's bit in a set of fields (uint64_t) */
#define FBIT(f) ((uint64_t)1 << (f))

static inline uint64_t iw_engine__hash_bytes(const unsigned char *p, size_t n, int lower)
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

static inline int iw_engine__merge_slot(int field)
{
    int k;
    for (k = 0; k < NMERGE; k++) if (merge_fields[k] == field) return k;
    return -1;
}

/* Order: by field (one fetch per field), then identical tests next to
 * each other (one evaluation for all their predicates). */
static inline int iw_engine__dcheck_key_cmp(const dcheck_t *x, const dcheck_t *y)
{
#define K(m) if (x->m != y->m) return x->m < y->m ? -1 : 1
    K(field); K(kind); K(op); K(num); K(unit); K(field2); K(mode); K(cased);
#undef K
    return 0;
}

/* the event type's index in per-type tables (compile and evaluation) */
/* A number check's comparison (iw_engine_eval.c, iw_engine_direct.c). */
static inline int iw_engine__cmp_num(int64_t x, int op, int64_t y)
{
    switch (op) {
    case OP_LT: return x < y;
    case OP_LTE: return x <= y;
    case OP_GT: return x > y;
    case OP_GTE: return x >= y;
    default: return x == y;
    }
}

/* A direct check other than a number on the field's value v
 * (iw_engine_direct.c). */
int iw_engine__direct_value(iw_scratch_t *s, const dcheck_t *d, iw_str_t v);
/* Direct check d on s's event (a lazy predicate's). */
int iw_engine__direct_one(iw_scratch_t *s, const dcheck_t *d);
/* The per-event direct checks e->dc of an event of the given type: their
 * predicates set (scan_event). */
void iw_engine__direct_checks(const iw_engine_t *e, iw_scratch_t *s, iw_event_t *ev, unsigned type);
/* Lazy predicate p's entries are all literals on one single-valued field:
 * its result is a function of that field's bytes alone (s->lzm); compile
 * time: e->lzlit). */
int iw_engine__lazy_lit_only(const iw_engine_t *e, int32_t p);

static inline int iw_engine__type_index(unsigned t) { return t == IW_EV_ERROR ? 1 : 0; }

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
    int rxre;                      /* the expression is its M_RE's regex itself */
    int exact;                     /* rxre compiled without HS_FLAG_PREFILTER: a report
                                    * is a match of the regex, no PCRE2 confirmation */
    const unsigned char *lb; size_t ll;  /* pure literal (lb != NULL) */
    int open_s, open_e;
    const iw_rule_t *rule; int line, col;
} pat_t;

typedef struct act { int32_t value, next; } act_t;

/* What a Vectorscan database was compiled from: expressions, flags, ids. */
typedef struct hsdb_parts { apr_array_header_t *ex, *fl, *id; } hsdb_parts_t;

typedef struct build {
    apr_pool_t *p, *tp;            /* engine pool, temp pool */
    iw_engine_t *e;
    iw_diag_t *diag;
    iw_ruleset_t *rs;
    apr_array_header_t *crules, *nodes, *kids, *sels, *groups, *items, *rows,
        *terms, *filt, *pats, *acts, *rx, *rxall, *dc, *predw, *always, *lits, *conf,
        *pnl,                      /* char per pred: 1 = cannot be lazy */
        *hl;                       /* hlact_t of header-line plans */
    apr_hash_t *pat_by_key, *pred_by_sig;
    /* current rule / item for messages and masks */
    const iw_rule_t *rule;
    unsigned types;
    int vline, vcol;               /* item being bound (pattern origin) */
    int errors;
    const iw_engine_dbcache_t *hsc;       /* compiled databases from earlier runs */
#define URI_BOTH_FIELD(k) ((k) == 0 ? IW_F_CS_URI : (k) == 1 ? IW_F_CS_URI_DEC : IW_F_CS_URI_STEM_DEC)
    apr_array_header_t *upl[3][3];        /* uri_both: ex, fl, id of cs-uri's, cs-uri-decoded's and
                                             cs-uri-stem-decoded's plain databases */
    hsdb_parts_t uhs[2];                  /* uri_both[1]: cs-uri's and its view's db, as compiled */
} build_t;

/* The pattern a database id stands for (an id past the patterns: a
 * confent_t's). */
static inline pat_t *iw_engine__pat_of(build_t *b, unsigned id)
{
    if (id >= (unsigned)b->pats->nelts)
        id = (unsigned)APR_ARRAY_IDX(b->conf, id - (unsigned)b->pats->nelts, confent_t).pat;
    return &APR_ARRAY_IDX(b->pats, id, pat_t);
}

/* iw_engine_rawsplit.c: the raw split.  plan: decided before the fields
 * are compiled (1: no merged scan); ids: cs-headers' database gets _raw's
 * literals (their ids appended); check: after, off again when cs-headers
 * has no database. */
int iw_engine__raw_split_plan(build_t *b);
void iw_engine__raw_split_ids(build_t *b, int field, apr_array_header_t *hs);
void iw_engine__raw_split_check(build_t *b);

/* iw_engine_hsdb.c: a field's Vectorscan databases.  field: the database
 * of the patterns ids (0, or -1 with an error; keep: what it was compiled
 * from); plain: its plain-value database; lines: its header-lines plan;
 * uri_both: the URI fields' databases as one, after every field. */
int iw_engine__hsdb_field(build_t *b, apr_array_header_t *ids, int field, hs_database_t **out,
                          unsigned *minw, hsdb_parts_t *keep);
void iw_engine__hsdb_plain(build_t *b, fieldm_t *fm, int field, const apr_array_header_t *ids);
void iw_engine__hsdb_lines(build_t *b, fieldm_t *fm, int field, const apr_array_header_t *ids);
void iw_engine__hsdb_uri_both(build_t *b);

/* A field's byte gate from its patterns (fm->gate; none: left NULL). */
void iw_engine__gate_build(build_t *b, fieldm_t *fm, const apr_array_header_t *ids);

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

void iw_engine__berr(build_t *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* iw_engine_lines.c: the header-lines plan of a header-block field whose
 * database holds the patterns ids: the expressions of its per-line and
 * block databases, their ids actions appended to b->hl.  0: no plan. */
typedef struct hlplan {
    apr_array_header_t *lex, *lfl, *lid;      /* line database: expr, flags, id */
    apr_array_header_t *bex, *bfl, *bid;      /* block database */
} hlplan_t;
int iw_engine__plan_lines(build_t *b, int field, const apr_array_header_t *ids, hlplan_t *out);
/* 1: x is escaped bytes only (\xhh...), none of them LF (iw_engine_lines.c). */
int iw_engine__escaped_literal_no_lf(const char *x);

/* iw_engine_evkey.c: the event cache's key of an event, or of the event
 * iw_event_from_request would build from d (the same bytes); 0 when it
 * cannot be cached.  *lines: where in buf its header lines are, as
 * cs-headers is made of them (NULL p: the key holds no header list). */
size_t iw_engine__event_key(const iw_engine_t *e, const iw_event_t *ev, int ti, unsigned char *buf,
                            iw_str_t *lines);
size_t iw_engine__request_key(const iw_engine_t *e, const iw_request_desc_t *d,
                              size_t buf_size, unsigned char *buf, size_t room, iw_str_t *lines);
/* The paused event cache's second chance (iw_engine_evkey.c): 1 when a
 * request of this method, target, client and header count was among the
 * recent ones (then it is looked up), else it is noted. */
int iw_engine__evc_repeat(iw_scratch_t *s, iw_str_t method, iw_str_t target, iw_str_t client, int nhdrs);
/* Plans request_key from evk_fields (plan_event_key, iw_engine_compile.c). */
void iw_engine__plan_request_key(iw_engine_t *e);

/* iw_engine_value.c: all matchers one YAML value stands for. */
/* the regexes of ids (pattern indexes) Vectorscan takes exactly (iw_engine_value.c) */
void iw_engine__exact_regexes(build_t *b, const apr_array_header_t *ids);
int iw_engine__value_matchers(build_t *b, apr_array_header_t *ms, const iw_item_t *it,
                              unsigned mods, const iw_value_t *v, int field);

#endif
