/* SPDX-License-Identifier: Apache-2.0 */
/* mod_iocwatch: httpd glue over the iocwatch engine (src/).
 *
 * Every finished request (log_transaction, before mod_log_config) and every
 * error-log entry (error_log hook) becomes an iw_event_t that the compiled
 * Sigma rules evaluate; alerts are rendered as ECS JSON and only queued here:
 * a sender thread per process (iw_notify) writes them to syslog.  Nothing in
 * the request path blocks on I/O, takes a lock (unless a correlation rule is
 * fed or IocWatchSuppress is on) or allocates (per-thread scratch, stack
 * buffers).
 *
 * Life cycle
 *   check_config  (every config pass, also `httpd -t`): load, link and
 *                 compile the rules of every server; any error is printed as
 *                 file:line:col and fails the start / the config test.  A
 *                 restart with broken rules keeps the previous generation's
 *                 (rebuilt from their saved sources) and logs one error.
 *   post_config   (not on the dry-run pass): correlation shared memory (the
 *                 previous generation's table is shared on when the rules
 *                 did not change; its partition locks live inside it), the
 *                 relay process that sends the parent's own alerts (for
 *                 error-log entries logged by the parent, e.g. "exit
 *                 signal") as User, so the root parent does no network I/O.
 *   child_init    start this child's alert queue; a pool cleanup flushes it
 *                 (bounded) when the child exits.
 * See docs/MODULE.md. */

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "ap_listen.h"
#include "mpm_common.h"
#include "util_mutex.h"
#include "util_script.h"
#include "mpm_common.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_shm.h"

#include "iw_common.h"
#include "iw_rules.h"
#include "iw_event.h"
#include "iw_engine.h"
#include "iw_corr.h"
#include "iw_engine_memo.h"
#include "iw_engine_dbcache.h"
#include "iw_alert.h"
#include "iw_notify.h"
#include "iw_metrics.h"
#include "iw_vs.h"
#include "iw_ban.h"

APLOG_USE_MODULE(iocwatch);

#define IW_TAG            "iocwatch: "
/* Stable message tags, like httpd's APLOGNO: "IW0012: iocwatch: ...".
 * Every ap_log_*error call has one, each number once (tests/cli/
 * test_tree.py checks); a new message takes the next free number, a
 * removed one's number is not reused. */
#define IWLOGNO(n)        "IW" #n ": "
#define IW_UNSET          (-1)
#define IW_ELOG_OFF       (-2)         /* IocWatchErrorLog Off */
#define IW_MUTEX_TYPE     "iocwatch-corr"  /* accepted, unused (pre_config) */
#define IW_RETAINED_KEY   "mod_iocwatch-retained"

#define IW_DEF_QUEUE      1024
#define IW_DEF_FACILITY   16           /* local0 */
#define IW_DEF_SHM        (4 * 1024 * 1024)
#define IW_DEF_SUPPRESS   60           /* IocWatchSuppress: on by default */
#define IW_HDRS_MIN       128          /* header slots per thread to start with */
#define IW_DEF_INSPECT    (1024 * 1024) /* IocWatchInspectLimit: > 100 x 8190 */
#define IW_DEF_BODY       (64 * 1024)  /* IocWatchBodyLimit */
#define IW_ALERTBUF_SIZE  (IW_NOTIFY_MSG_MAX + 1)
#define IW_MAX_SEL_HITS   64           /* hits kept after exclusions */
#define IW_MAX_CORR_OUT   8
#define IW_MAX_RT         64           /* distinct rule configurations */
#define IW_FLUSH_WAIT     apr_time_from_msec(1000)

/* ------------------------------------------------------------------ config */

typedef struct iw_placeholder { const char *name, *file; } iw_placeholder_t;

typedef struct iw_srv_conf {
    apr_array_header_t *rules;        /* const char*: IocWatchRules (NULL: unset) */
    apr_array_header_t *filters;      /* const char*: IocWatchFilters */
    apr_array_header_t *placeholders; /* iw_placeholder_t: IocWatchPlaceholder */
    const char *target;               /* IocWatchAlertTarget */
    int format;                       /* iw_format_t; IocWatchAlertFormat */
    int facility;                     /* IocWatchSyslogFacility */
    int min_level;                    /* iw_level_t; IocWatchMinLevel */
    int queue_size;                   /* IocWatchQueueSize */
    int errorlog;                     /* max APLOG level watched, or IW_ELOG_OFF */
    int suppress;                     /* IocWatchSuppress seconds */
    apr_int64_t shm_size;             /* IocWatchSharedMemory bytes */
    const char *cache_dir;            /* IocWatchCacheDir ("" = off) */
    int scan_cache;                   /* IocWatchScanCache entries, 0 = off */
    struct iw_ban_conf *ban;          /* IocWatchBan*; NULL: all defaults (off) */
    /* resolved at check_config / post_config (not merged) */
    int rt;                           /* index into G->rts, -1: no rules */
    int nt;                           /* index into G->ntcfg */
    int time_taken;                   /* a rule reads time-taken (else not asked) */
    const char *host;                 /* the server's server_hostname ... */
    apr_size_t host_len;              /* ... and its length (not asked per request) */
} iw_srv_conf_t;

typedef struct iw_dir_conf {
    int enabled;                      /* IocWatch On|Off */
    int summary;                      /* IocWatchSummary On|Off */
    int body_limit;                   /* IocWatchBodyLimit bytes, 0 = Off */
    apr_array_header_t *exclude;      /* const char*: IocWatchExcludeRule (union) */
} iw_dir_conf_t;

static void *iw_create_srv(apr_pool_t *p, server_rec *s)
{
    iw_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->format = c->facility = c->min_level = c->queue_size = IW_UNSET;
    c->errorlog = c->suppress = IW_UNSET;
    c->shm_size = IW_UNSET;
    c->scan_cache = IW_UNSET;
    c->rt = c->nt = -1;
    return c;
}

struct iw_ban_conf;
static struct iw_ban_conf *ban_merge(apr_pool_t *p, struct iw_ban_conf *base,
                                     struct iw_ban_conf *add);

#define IW_MERGE_INT(f)  m->f = (add->f != IW_UNSET) ? add->f : base->f
#define IW_MERGE_PTR(f)  m->f = add->f ? add->f : base->f

static void *iw_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const iw_srv_conf_t *base = basev, *add = addv;
    iw_srv_conf_t *m = apr_pcalloc(p, sizeof(*m));
    IW_MERGE_PTR(rules);
    IW_MERGE_PTR(filters);
    IW_MERGE_PTR(placeholders);
    IW_MERGE_PTR(target);
    IW_MERGE_INT(format);
    IW_MERGE_INT(facility);
    IW_MERGE_INT(min_level);
    IW_MERGE_INT(queue_size);
    IW_MERGE_INT(errorlog);
    IW_MERGE_INT(suppress);
    IW_MERGE_INT(shm_size);
    IW_MERGE_PTR(cache_dir);
    IW_MERGE_INT(scan_cache);
    m->ban = ban_merge(p, base->ban, add->ban);
    m->rt = m->nt = -1;
    return m;
}

static void *iw_create_dir(apr_pool_t *p, char *dir)
{
    iw_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->enabled = c->summary = c->body_limit = IW_UNSET;
    return c;
}

static void *iw_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const iw_dir_conf_t *base = basev, *add = addv;
    iw_dir_conf_t *m = apr_pcalloc(p, sizeof(*m));
    IW_MERGE_INT(enabled);
    IW_MERGE_INT(summary);
    IW_MERGE_INT(body_limit);
    /* exclusions accumulate: a sub-location keeps its parents' exclusions */
    if (base->exclude && add->exclude)
        m->exclude = apr_array_append(p, base->exclude, add->exclude);
    else
        IW_MERGE_PTR(exclude);
    return m;
}

IW_HOT
static iw_srv_conf_t *srv_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &iocwatch_module);
}

IW_HOT
static iw_dir_conf_t *dir_conf(ap_conf_vector_t *v)
{
    return v ? ap_get_module_config(v, &iocwatch_module) : NULL;
}

/* ------------------------------------------------------------- directives */

static const char *set_enabled(cmd_parms *cmd, void *dv, int on)
{
    ((iw_dir_conf_t *)dv)->enabled = on;
    return NULL;
}

/* SIZE|Off: bytes of a form/JSON body kept for inspection. */
static const char *set_body_limit(cmd_parms *cmd, void *dv, const char *arg)
{
    char *end;
    apr_int64_t v;
    int sh = 0;
    if (!strcasecmp(arg, "off")) {
        ((iw_dir_conf_t *)dv)->body_limit = 0;
        return NULL;
    }
    v = apr_strtoi64(arg, &end, 10);
    if (end != arg && *end && !end[1]) {
        switch (apr_toupper(*end)) {
        case 'K': sh = 10; end++; break;
        case 'M': sh = 20; end++; break;
        }
    }
    if (end == arg || *end || v < 1 || v > ((apr_int64_t)64 << (20 - sh)))
        return "IocWatchBodyLimit: expected Off or a size up to 64M (like 64K)";
    ((iw_dir_conf_t *)dv)->body_limit = (int)(v << sh);
    return NULL;
}

static const char *set_summary(cmd_parms *cmd, void *dv, int on)
{
    ((iw_dir_conf_t *)dv)->summary = on;
    return NULL;
}

static const char *add_exclude(cmd_parms *cmd, void *dv, const char *id)
{
    iw_dir_conf_t *d = dv;
    if (!d->exclude)
        d->exclude = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(d->exclude, const char *) = id;
    return NULL;
}

static int has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* A path list directive: resolve against ServerRoot, refuse a plain path
 * that does not exist (so the error names the httpd.conf line). */
static const char *add_path(cmd_parms *cmd, apr_array_header_t **arr,
                            const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    if (!path)
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'",
                            cmd->cmd->name, arg);
    if (!has_glob(path) && apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool)
                           != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: cannot access '%s'",
                            cmd->cmd->name, path);
    if (!*arr)
        *arr = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(*arr, const char *) = path;
    return NULL;
}

static const char *add_rules(cmd_parms *cmd, void *dv, const char *arg)
{
    return add_path(cmd, &srv_conf(cmd->server)->rules, arg);
}

static const char *add_filters(cmd_parms *cmd, void *dv, const char *arg)
{
    return add_path(cmd, &srv_conf(cmd->server)->filters, arg);
}

static const char *add_placeholder(cmd_parms *cmd, void *dv, const char *name,
                                   const char *file)
{
    iw_srv_conf_t *c = srv_conf(cmd->server);
    apr_array_header_t *one = NULL;
    const char *err;
    iw_placeholder_t *ph;
    if (name[0] == '%')
        name++;
    if (!*name)
        return "IocWatchPlaceholder: empty placeholder name";
    if ((err = add_path(cmd, &one, file)) != NULL)
        return err;
    if (!c->placeholders)
        c->placeholders = apr_array_make(cmd->pool, 4, sizeof(iw_placeholder_t));
    ph = apr_array_push(c->placeholders);
    ph->name = apr_pstrndup(cmd->pool, name,
                            strlen(name) - (name[strlen(name) - 1] == '%'));
    ph->file = APR_ARRAY_IDX(one, 0, const char *);
    return NULL;
}

static const char *set_target(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *err = iw_notify_check_target(cmd->pool, arg);
    if (err)
        return apr_pstrcat(cmd->pool, "IocWatchAlertTarget: ", err, NULL);
    srv_conf(cmd->server)->target = arg;
    return NULL;
}

static const char *set_format(cmd_parms *cmd, void *dv, const char *arg)
{
    int *f = &srv_conf(cmd->server)->format;
    if (!strcasecmp(arg, "rfc3164"))      *f = IW_FORMAT_RFC3164;
    else if (!strcasecmp(arg, "rfc5424")) *f = IW_FORMAT_RFC5424;
    else if (!strcasecmp(arg, "json"))    *f = IW_FORMAT_JSON;
    else return "IocWatchAlertFormat: expected rfc3164, rfc5424 or json";
    return NULL;
}

static const char *set_facility(cmd_parms *cmd, void *dv, const char *arg)
{
    int f = iw_facility_parse(arg);
    if (f < 0)
        return apr_psprintf(cmd->pool, "IocWatchSyslogFacility: unknown facility "
                            "'%s' (local0..local7, daemon, user, auth, authpriv)", arg);
    srv_conf(cmd->server)->facility = f;
    return NULL;
}

static const char *set_min_level(cmd_parms *cmd, void *dv, const char *arg)
{
    iw_level_t l = iw_level_parse(arg);
    if (l == IW_LEVEL_NONE)
        return "IocWatchMinLevel: expected informational, low, medium, high "
               "or critical";
    srv_conf(cmd->server)->min_level = l;
    return NULL;
}

static const char *parse_int(cmd_parms *cmd, const char *arg, long lo, long hi,
                             long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi)
        return apr_psprintf(cmd->pool, "%s: expected a number from %ld to %ld",
                            cmd->cmd->name, lo, hi);
    *out = v;
    return NULL;
}

static const char *set_queue(cmd_parms *cmd, void *dv, const char *arg)
{
    long v = 0;
    const char *err = parse_int(cmd, arg, 1, 65536, &v);
    if (!err)
        srv_conf(cmd->server)->queue_size = (int)v;
    return err;
}

/* IocWatchSuppress in effect (seconds, 0 = off): on unless set to 0. */
static int suppress_secs(const iw_srv_conf_t *sc)
{
    return sc->suppress == IW_UNSET ? IW_DEF_SUPPRESS : sc->suppress;
}

static const char *set_suppress(cmd_parms *cmd, void *dv, const char *arg)
{
    long v = 0;
    const char *err = parse_int(cmd, arg, 0, 86400 * 7, &v);
    if (!err)
        srv_conf(cmd->server)->suppress = (int)v;
    return err;
}

/* DIR | Off: where compiled Vectorscan databases are kept between starts;
 * relative paths are under DefaultRuntimeDir. */
static const char *set_cache_dir(cmd_parms *cmd, void *dv, const char *arg)
{
    srv_conf(cmd->server)->cache_dir = !strcasecmp(arg, "off") ? ""
        : ap_runtime_dir_relative(cmd->pool, arg);
    return srv_conf(cmd->server)->cache_dir ? NULL
        : "IocWatchCacheDir: invalid path";
}

/* ENTRIES|Off: per-thread cache of scan results for repeated values. */
static const char *set_scan_cache(cmd_parms *cmd, void *dv, const char *arg)
{
    long v = 0;
    const char *err = NULL;
    if (!strcasecmp(arg, "off"))
        v = 0;
    else if (!strcasecmp(arg, "on"))
        v = IW_ENGINE_MEMO_DEFAULT_ENTRIES;
    else if ((err = parse_int(cmd, arg, 1, 1L << 20, &v)) != NULL)
        return apr_pstrcat(cmd->pool, err, ", On or Off", NULL);
    srv_conf(cmd->server)->scan_cache = (int)v;
    return NULL;
}

/* SIZE: bytes with an optional K, M or G suffix. */
static const char *set_shm(cmd_parms *cmd, void *dv, const char *arg)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);
    int sh = 0;
    if (end != arg && *end && !end[1]) {
        switch (apr_toupper(*end)) {
        case 'K': sh = 10; end++; break;
        case 'M': sh = 20; end++; break;
        case 'G': sh = 30; end++; break;
        }
    }
    if (end == arg || *end || v <= 0 || v > ((apr_int64_t)4 << (30 - sh)))
        return "IocWatchSharedMemory: expected a size like 65536, 512K or 4M "
               "(at most 4G)";
    srv_conf(cmd->server)->shm_size = v << sh;
    return NULL;
}

/* IocWatchInspectLimit SIZE: per process (the per-thread event buffers),
 * so main server config only; reset by every config read (pre_config). */
static apr_size_t iw_inspect_limit = IW_DEF_INSPECT;

static const char *set_inspect_limit(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    apr_int64_t v;
    int sh = 0;
    if (err)
        return err;
    v = apr_strtoi64(arg, &end, 10);
    if (end != arg && *end && !end[1]) {
        switch (apr_toupper(*end)) {
        case 'K': sh = 10; end++; break;
        case 'M': sh = 20; end++; break;
        }
    }
    if (end == arg || *end || v < 1 || v > ((apr_int64_t)256 << (20 - sh))
        || (v << sh) < 4096)
        return "IocWatchInspectLimit: expected a size from 4K to 256M "
               "(like 1M or 65536)";
    iw_inspect_limit = (apr_size_t)(v << sh);
    return NULL;
}

static const char *set_errorlog(cmd_parms *cmd, void *dv, const char *arg)
{
    iw_srv_conf_t *c = srv_conf(cmd->server);
    int lvl;
    if (!strcasecmp(arg, "on"))
        c->errorlog = APLOG_TRACE8;
    else if (!strcasecmp(arg, "off"))
        c->errorlog = IW_ELOG_OFF;
    else if (ap_parse_log_level(arg, &lvl) == NULL)
        c->errorlog = lvl;
    else
        return "IocWatchErrorLog: expected On, Off or a log level (e.g. warn)";
    return NULL;
}

/* --------------------------------------------- active response: directives */

/* IocWatchBanTrigger KIND:VALUE SECONDS */
enum { IW_BAN_RULE = 1, IW_BAN_TAG, IW_BAN_LEVEL };
typedef struct iw_ban_trigger {
    int kind;
    const char *value;                /* rule id/name or tag */
    iw_level_t level;                 /* IW_BAN_LEVEL: at least this */
    int seconds;
} iw_ban_trigger_t;

enum { IW_BAN_OFF = 0, IW_BAN_ON = 1, IW_BAN_DRY = 2 };
#define IW_BAN_DEF_STATUS 403
#define IW_BAN_DEF_MAX    4096
#define IW_BAN_TOKEN_HDR  "X-IocWatch-Token"

typedef struct iw_ban_conf {
    int mode;                         /* IocWatchBan: IW_BAN_*, IW_UNSET */
    apr_array_header_t *triggers;     /* iw_ban_trigger_t; NULL: unset */
    apr_array_header_t *allow;        /* iw_ban_net_t; NULL: loopback */
    int status;                       /* IocWatchBanStatus */
    int max;                          /* IocWatchBanTableSize (main server) */
    const char *token;                /* IocWatchBanTokenFile's content */
} iw_ban_conf_t;

static iw_ban_conf_t *ban_conf(cmd_parms *cmd)
{
    iw_srv_conf_t *c = srv_conf(cmd->server);
    if (!c->ban) {
        c->ban = apr_pcalloc(cmd->pool, sizeof(*c->ban));
        c->ban->mode = c->ban->status = c->ban->max = IW_UNSET;
    }
    return c->ban;
}

/* A vhost's settings override the main server's one by one. */
static struct iw_ban_conf *ban_merge(apr_pool_t *p, struct iw_ban_conf *base,
                                     struct iw_ban_conf *add)
{
    iw_ban_conf_t *m;
    if (!base || !add)
        return add ? add : base;
    m = apr_pcalloc(p, sizeof(*m));
    IW_MERGE_INT(mode);
    IW_MERGE_PTR(triggers);
    IW_MERGE_PTR(allow);
    IW_MERGE_INT(status);
    IW_MERGE_INT(max);
    IW_MERGE_PTR(token);
    return m;
}

static const char *set_ban(cmd_parms *cmd, void *dv, const char *arg)
{
    int *m = &ban_conf(cmd)->mode;
    if (!strcasecmp(arg, "on"))           *m = IW_BAN_ON;
    else if (!strcasecmp(arg, "off"))     *m = IW_BAN_OFF;
    else if (!strcasecmp(arg, "dryrun"))  *m = IW_BAN_DRY;
    else return "IocWatchBan: expected On, Off or DryRun";
    return NULL;
}

static const char *add_ban_trigger(cmd_parms *cmd, void *dv, const char *what,
                                   const char *secs)
{
    iw_ban_conf_t *b = ban_conf(cmd);
    iw_ban_trigger_t tr = {0};
    long v = 0;
    const char *err = parse_int(cmd, secs, 1, 86400 * 30, &v);
    if (err)
        return err;
    tr.seconds = (int)v;
    if (!strncasecmp(what, "rule:", 5) && what[5])
        tr.kind = IW_BAN_RULE, tr.value = what + 5;
    else if (!strncasecmp(what, "tag:", 4) && what[4])
        tr.kind = IW_BAN_TAG, tr.value = what + 4;
    else if (!strncasecmp(what, "level:", 6)
             && (tr.level = iw_level_parse(what + 6)) != IW_LEVEL_NONE)
        tr.kind = IW_BAN_LEVEL;
    else
        return apr_psprintf(cmd->pool, "IocWatchBanTrigger: expected rule:ID, "
                            "tag:TAG or level:LEVEL (informational..critical), "
                            "not '%s'", what);
    if (!b->triggers)
        b->triggers = apr_array_make(cmd->pool, 4, sizeof(iw_ban_trigger_t));
    APR_ARRAY_PUSH(b->triggers, iw_ban_trigger_t) = tr;
    return NULL;
}

static const char *add_ban_allow(cmd_parms *cmd, void *dv, const char *arg)
{
    iw_ban_conf_t *b = ban_conf(cmd);
    iw_ban_net_t n;
    if (!b->allow)
        b->allow = apr_array_make(cmd->pool, 4, sizeof(iw_ban_net_t));
    if (!strcasecmp(arg, "none"))
        return NULL;                  /* an empty list: nobody is exempt */
    if (iw_ban_net_parse(arg, &n) != 0)
        return apr_psprintf(cmd->pool, "IocWatchBanAllow: '%s' is not an "
                            "address or network (192.0.2.0/24, 2001:db8::/32)",
                            arg);
    APR_ARRAY_PUSH(b->allow, iw_ban_net_t) = n;
    return NULL;
}

static const char *set_ban_status(cmd_parms *cmd, void *dv, const char *arg)
{
    long v = 0;
    const char *err = parse_int(cmd, arg, 400, 599, &v);
    if (!err)
        ban_conf(cmd)->status = (int)v;
    return err;
}

static const char *set_ban_table(cmd_parms *cmd, void *dv, const char *arg)
{
    long v = 0;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err || (err = parse_int(cmd, arg, 1, 1L << 22, &v)) != NULL)
        return err;
    ban_conf(cmd)->max = (int)v;
    return NULL;
}

/* The token is read once, as root, when the config is read: keep the file
 * readable by root only (httpd.conf often is world-readable). */
static const char *set_ban_token(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg), *err;
    apr_file_t *f;
    char buf[257];
    apr_size_t n = sizeof(buf) - 1;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL)
        return err;
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->temp_pool)
                 != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "IocWatchBanTokenFile: cannot read '%s'",
                            path ? path : arg);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS && n == 0)
        n = 0;
    apr_file_close(f);
    while (n && apr_isspace(buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (n < 16 || n == sizeof(buf) - 1 || strpbrk(buf, " \t\r\n"))
        return apr_psprintf(cmd->pool, "IocWatchBanTokenFile: '%s' must hold "
                            "one token of 16 to 255 characters", path);
    ban_conf(cmd)->token = apr_pstrdup(cmd->pool, buf);
    return NULL;
}

#define IW_BAN_CMDS \
    AP_INIT_TAKE1("IocWatchBan", set_ban, NULL, RSRC_CONF, \
        "On|Off|DryRun: deny clients for whom an IocWatchBanTrigger alerts " \
        "(DryRun: only alert \"would deny\"; default Off)"), \
    AP_INIT_TAKE2("IocWatchBanTrigger", add_ban_trigger, NULL, RSRC_CONF, \
        "rule:ID|tag:TAG|level:LEVEL SECONDS: deny the client for SECONDS " \
        "when such a rule alerts for it; repeatable (default none)"), \
    AP_INIT_ITERATE("IocWatchBanAllow", add_ban_allow, NULL, RSRC_CONF, \
        "addresses or networks never denied, or None (default 127.0.0.0/8 " \
        "::1)"), \
    AP_INIT_TAKE1("IocWatchBanStatus", set_ban_status, NULL, RSRC_CONF, \
        "HTTP status of a denied request, 400..599 (default 403)"), \
    AP_INIT_TAKE1("IocWatchBanTableSize", set_ban_table, NULL, RSRC_CONF, \
        "active bans held at most, server-wide; when full the ban ending " \
        "soonest is evicted and alerted (default 4096)"), \
    AP_INIT_TAKE1("IocWatchBanTokenFile", set_ban_token, NULL, RSRC_CONF, \
        "file holding the token that a POST to the status page must send " \
        "in X-IocWatch-Token to lift bans (default none: lifting off)"),

static const command_rec iw_cmds[] = {
    AP_INIT_FLAG("IocWatch", set_enabled, NULL, RSRC_CONF | ACCESS_CONF,
        "On|Off: inspect requests and error-log entries of this server or "
        "location (default On where rules are configured)"),
    AP_INIT_ITERATE("IocWatchRules", add_rules, NULL, RSRC_CONF,
        "Sigma rule files, directories or globs; in a <VirtualHost> they replace "
        "the main server's rules with a vhost-specific engine"),
    AP_INIT_ITERATE("IocWatchFilters", add_filters, NULL, RSRC_CONF,
        "Sigma filter files, directories or globs (exclusions applied by the "
        "engine)"),
    AP_INIT_TAKE2("IocWatchPlaceholder", add_placeholder, NULL, RSRC_CONF,
        "NAME FILE: values for %NAME% in |expand rules, one per line"),
    AP_INIT_TAKE1("IocWatchAlertTarget", set_target, NULL, RSRC_CONF,
        "unix:/dev/log (default) | unix-stream:PATH | udp://HOST:PORT | "
        "tcp://HOST:PORT"),
    AP_INIT_TAKE1("IocWatchAlertFormat", set_format, NULL, RSRC_CONF,
        "rfc3164 (default for unix:) | rfc5424 (default otherwise) | json"),
    AP_INIT_TAKE1("IocWatchSyslogFacility", set_facility, NULL, RSRC_CONF,
        "syslog facility of alerts (default local0)"),
    AP_INIT_TAKE1("IocWatchMinLevel", set_min_level, NULL, RSRC_CONF,
        "lowest Sigma level that alerts: informational|low|medium|high|critical"),
    AP_INIT_ITERATE("IocWatchExcludeRule", add_exclude, NULL,
        RSRC_CONF | ACCESS_CONF,
        "rule ids or names that never alert here (accumulates into "
        "sub-locations)"),
    AP_INIT_TAKE1("IocWatchQueueSize", set_queue, NULL, RSRC_CONF,
        "alerts queued per process before new ones are dropped (default 1024)"),
    AP_INIT_TAKE1("IocWatchSharedMemory", set_shm, NULL, RSRC_CONF,
        "size of the correlation state table shared by all children "
        "(default 4M)"),
    AP_INIT_TAKE1("IocWatchCacheDir", set_cache_dir, NULL, RSRC_CONF,
        "DIR|Off: keep compiled rule databases here so restarts skip the "
        "compile (default DefaultRuntimeDir/iocwatch-cache)"),
    AP_INIT_TAKE1("IocWatchScanCache", set_scan_cache, NULL, RSRC_CONF,
        "ENTRIES|On|Off: per-thread cache of scan results for repeated field "
        "values, exact and never changing results (default On = 1024 entries, "
        "about 300 KiB per thread)"),
    AP_INIT_TAKE1("IocWatchErrorLog", set_errorlog, NULL, RSRC_CONF,
        "On|Off|LEVEL: inspect error-log entries (of at least LEVEL)"),
    AP_INIT_TAKE1("IocWatchSuppress", set_suppress, NULL, RSRC_CONF,
        "SECONDS: after an alert, hold back the same rule for the same client "
        "(correlations: the same group) and count it into the next one; "
        "default 60, 0 = off"),
    AP_INIT_TAKE1("IocWatchBodyLimit", set_body_limit, NULL, RSRC_CONF | ACCESS_CONF,
        "SIZE|Off: bytes of an application/x-www-form-urlencoded or JSON "
        "request body kept, as the handler reads it, for the cs-body fields; "
        "bytes past it are counted into iw-truncated (default 64K)"),
    AP_INIT_FLAG("IocWatchSummary", set_summary, NULL, RSRC_CONF | ACCESS_CONF,
        "On|Off: one alert per request listing every matching rule"),
    AP_INIT_TAKE1("IocWatchInspectLimit", set_inspect_limit, NULL, RSRC_CONF,
        "SIZE: request line + headers inspected in full (decoded views, "
        "cs-headers); a larger request gets iw-truncated and is counted "
        "(default 1M, above httpd's default limits; main server only)"),
    IW_BAN_CMDS
    {NULL}
};

/* ----------------------------------------------------------- runtime state */

/* One compiled rule configuration, shared by every server that has the same
 * IocWatchRules/Filters/Placeholder/MinLevel settings (vhosts inherit). */
typedef struct iw_rt {
    const iw_srv_conf_t *key;
    iw_ruleset_t *rs;
    iw_engine_t *engine;
    iw_corr_t *corr;
    void *mem;                  /* correlation table (shared memory) */
    apr_size_t mem_bytes;
    int nrules;
    int *midx;                  /* rule->index -> server-wide counter entry */
    apr_uint64_t *eval_errs;    /* this process: evaluation errors per rule->index */
    int nrs;                    /* entries of eval_errs */
    /* a reload found the rule files broken and this generation runs the
     * previous one's rules (rebuilt from their saved sources): the first
     * error, for the status page; NULL normally */
    const char *stale;
} iw_rt_t;

/* Per process counters (the status page). */
typedef struct iw_counters {
    apr_uint64_t events, error_events, hits, alerts, excluded, below_level,
                 suppressed, corr_alerts, enqueue_failed, eval_errors,
                 inspect_truncated, rules_omitted;
} iw_counters_t;

/* One per config generation, from pconf. */
typedef struct iw_global {
    apr_pool_t *pool;
    iw_rt_t *rts[IW_MAX_RT];
    int nrts;
    apr_array_header_t *ntcfg;  /* iw_notify_cfg_t: distinct alert targets */
    iw_notify_t **notifies;     /* this process's queues, one per ntcfg */
    apr_pool_t *npool;          /* unmanaged: holds them */
    pid_t notify_owner;         /* process that started them */
    /* the parent's alerts go to an unprivileged relay process (below) */
    int relay_fd;               /* parent's end of the socketpair, -1: none */
    pid_t relay_pid, relay_owner;
    apr_proc_t relay_proc;
    char hostname[256];
    iw_metrics_t *metrics;      /* server-wide counters (shared memory) */
    int64_t rules_time;         /* when this generation's rules were loaded */
    int unique_id;                      /* mod_unique_id loaded: UNIQUE_ID set */
    int ready;                  /* post_config done: hooks may run */
    iw_counters_t ctr;
    void *ban;                  /* ban table (shared memory); NULL: no bans */
} iw_global_t;

static iw_global_t *G;

/* Survives restarts (process pool): the previous generation's correlation
 * tables, so state can be carried over when the rules did not change. */
typedef struct iw_shm_slot {
    apr_shm_t *shm;
    void *mem;
    apr_size_t bytes;
    char key[512];              /* rule paths: which configuration it held */
} iw_shm_slot_t;

typedef struct iw_retained {
    iw_shm_slot_t slot[IW_MAX_RT];
} iw_retained_t;

/* Survives restarts too (its own retained block, malloc'd contents): the
 * sources of the rules each configuration last compiled without error, so
 * that a reload with a broken rule file keeps serving with them.  Sources,
 * not compiled engines: the DSO (and the code any compiled object points
 * to) is unloaded and loaded again on every restart. */
#define IW_SNAPS_KEY      "mod_iocwatch-rule-sources"
typedef struct iw_snap {
    char *key;                  /* conf_key() of the configuration */
    char *blob;                 /* iw_ruleset_sources_dump() */
    size_t len;
} iw_snap_t;

typedef struct iw_snaps {
    iw_snap_t s[IW_MAX_RT];
} iw_snaps_t;

/* This process's counter and the server-wide one (the thread's slot of
 * the metrics block, see "server-wide metrics" below). */
static __thread iw_mslot_t *iw_mslot_tl;
#define CTR_INC(f) (__atomic_fetch_add(&G->ctr.f, 1, __ATOMIC_RELAXED), \
                    iw_metrics_add(iw_mslot_tl, IW_Mn_##f, 1))
#define CTR_ADD(f, v) (__atomic_fetch_add(&G->ctr.f, (v), __ATOMIC_RELAXED), \
                       iw_metrics_add(iw_mslot_tl, IW_Mn_##f, (v)))
#define CTR_GET(f) __atomic_load_n(&G->ctr.f, __ATOMIC_RELAXED)

/* ------------------------------------------------------ per-thread scratch */

/* What every request reads comes first: one cache line (in a busy
 * server it is cold on each request). */
typedef struct iw_tls {
    int in_hook;                        /* buffers in use: no re-entry */
    apr_uint64_t events;                /* this thread's share of ctr.events */
    iw_scratch_t *scratch[IW_MAX_RT];   /* per engine, lazily */
    iw_event_t ev;                      /* owns its work buffer, sized per request */
    char *alertbuf;                     /* rendered alert */
    iw_hit_t sel[IW_MAX_SEL_HITS];      /* hits kept after exclusions */
    iw_str_t *hn, *hv;                  /* request header names/values */
    int hcap;                           /* slots in hn/hv (grown as needed) */
    struct iw_tls *prev, *next;         /* every thread's, for the status page */
    iw_mslot_t *mslot;                  /* server-wide counters (shared memory) */
    uint64_t mcache[4];                 /* cache counters already published */
    const int *midx;                    /* the alerting engine's rule entries */
    int nt;                             /* the alerting server's target (relay) */
} iw_tls_t;

/* All threads' iw_tls_t of this process; the lock is taken only when a
 * thread starts or ends and by the status page. */
static pthread_mutex_t iw_tls_mu = PTHREAD_MUTEX_INITIALIZER;
static iw_tls_t *iw_tls_head;

static void iw_tls_link(iw_tls_t *t)
{
    pthread_mutex_lock(&iw_tls_mu);
    t->next = iw_tls_head;
    if (iw_tls_head)
        iw_tls_head->prev = t;
    iw_tls_head = t;
    pthread_mutex_unlock(&iw_tls_mu);
}

static void iw_tls_unlink(iw_tls_t *t)
{
    pthread_mutex_lock(&iw_tls_mu);
    if (G)                  /* the thread's count outlives it */
        __atomic_fetch_add(&G->ctr.events, t->events, __ATOMIC_RELAXED);
    if (t->prev)
        t->prev->next = t->next;
    else if (iw_tls_head == t)
        iw_tls_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&iw_tls_mu);
}

static pthread_key_t iw_key;
static int iw_key_ok;               /* the key's generation (0: none) */
/* this thread's iw_tls_t (the key's value) and the key's generation then:
 * one TLS read per request instead of pthread_getspecific */
static __thread iw_tls_t *iw_tls_cur;
static __thread int iw_tls_cur_gen;

static void metrics_thread_start(iw_tls_t *t);
static void metrics_thread_end(iw_tls_t *t);
static void metrics_publish_caches(iw_tls_t *t);

static void iw_tls_free(void *v)
{
    iw_tls_t *t = v;
    int i;
    if (!t)
        return;
    if (t == iw_tls_cur) {
        iw_tls_cur = NULL;
        iw_tls_cur_gen = 0;
    }
    metrics_thread_end(t);
    iw_tls_unlink(t);
    for (i = 0; i < IW_MAX_RT; i++)
        if (t->scratch[i])
            iw_scratch_destroy(t->scratch[i]);
    iw_event_release(&t->ev);
    free(t->alertbuf);
    free(t->hn);
    free(t->hv);
    free(t);
}

/* This thread's scratch; created on first use (one malloc per thread,
 * freed by the key destructor when the thread exits). */
IW_HOT
static iw_tls_t *iw_tls(void)
{
    iw_tls_t *t;
    if (iw_tls_cur_gen == iw_key_ok && iw_tls_cur)
        return iw_tls_cur;
    if (!iw_key_ok)
        return NULL;
    t = pthread_getspecific(iw_key);
    if (t) {
        iw_tls_cur = t;
        iw_tls_cur_gen = iw_key_ok;
        return t;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->alertbuf = malloc(IW_ALERTBUF_SIZE);
    t->hn = malloc(IW_HDRS_MIN * sizeof(*t->hn));
    t->hv = malloc(IW_HDRS_MIN * sizeof(*t->hv));
    t->hcap = IW_HDRS_MIN;
    if (iw_event_init_owned(&t->ev, iw_inspect_limit) != 0 || !t->alertbuf
        || !t->hn || !t->hv || pthread_setspecific(iw_key, t) != 0) {
        iw_tls_free(t);
        return NULL;
    }
    iw_tls_link(t);
    metrics_thread_start(t);
    iw_tls_cur = t;
    iw_tls_cur_gen = iw_key_ok;
    return t;
}

IW_HOT
static iw_scratch_t *iw_tls_scratch(iw_tls_t *t, int rt)
{
    if (!t->scratch[rt])
        t->scratch[rt] = iw_scratch_create(G->rts[rt]->engine);
    return t->scratch[rt];
}

/* ------------------------------------------------------- rule compilation */

static void log_diags(server_rec *s, iw_diag_t *d)
{
    int i;
    for (i = 0; i < d->msgs->nelts; i++) {
        const iw_diag_msg_t *m = &APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t);
        ap_log_error(APLOG_MARK, APLOG_STARTUP |
                     (m->level == IW_DIAG_ERROR ? APLOG_ERR : APLOG_WARNING),
                     0, s, IWLOGNO(0001) IW_TAG "%s", m->text);
    }
}

static int same_rt(const iw_srv_conf_t *a, const iw_srv_conf_t *b)
{
    return a->rules == b->rules && a->filters == b->filters
        && a->placeholders == b->placeholders && a->min_level == b->min_level
        && a->scan_cache == b->scan_cache;
}

static void add_paths(iw_ruleset_t *rs, const apr_array_header_t *a,
                      iw_diag_t *d)
{
    int i;
    for (i = 0; a && i < a->nelts; i++)
        iw_rules_load(rs, APR_ARRAY_IDX(a, i, const char *), d);
}

/* Which configuration a message is about, in the admin's terms: the
 * main server, or the <VirtualHost> block by its file and line (its
 * address, e.g. 127.0.0.1:0, says nothing about where the rules are set). */
static const char *server_desc(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual || !s->defn_name)
        return "the main server";
    return apr_psprintf(p, "<VirtualHost> at %s:%u%s%s", s->defn_name,
                        s->defn_line_number,
                        s->server_hostname ? " (ServerName " : "",
                        s->server_hostname ? apr_pstrcat(p, s->server_hostname,
                                                         ")", NULL) : "");
}

/* Load, link and compile one configuration, from its files (the sources
 * are recorded for a later reload) or from saved sources (from != NULL).
 * NULL when d has errors; the caller logs d. */
static iw_rt_t *build_rt(apr_pool_t *pconf, apr_pool_t *ptemp,
                         const iw_srv_conf_t *sc, const iw_snap_t *from,
                         iw_diag_t *d)
{
    iw_rt_t *rt = apr_pcalloc(pconf, sizeof(*rt));
    iw_engine_opts_t opts = {0};
    int i;

    rt->key = sc;
    rt->rs = iw_ruleset_create(pconf);
    iw_ruleset_record_sources(rt->rs);
    if (from) {
        iw_ruleset_load_sources(rt->rs, from->blob, from->len, d);
    } else {
        for (i = 0; sc->placeholders && i < sc->placeholders->nelts; i++) {
            const iw_placeholder_t *ph = &APR_ARRAY_IDX(sc->placeholders, i,
                                                        iw_placeholder_t);
            iw_ruleset_load_placeholder_file(rt->rs, ph->name, ph->file, d);
        }
        add_paths(rt->rs, sc->rules, d);
        add_paths(rt->rs, sc->filters, d);
    }
    if (!d->errors)
        iw_ruleset_link(rt->rs, d);
    if (!d->errors) {
        opts.min_level = sc->min_level == IW_UNSET ? IW_LEVEL_NONE
                                                   : (iw_level_t)sc->min_level;
        opts.scan_cache = sc->scan_cache == IW_UNSET ? 0
                          : sc->scan_cache == 0 ? -1 : sc->scan_cache;
        opts.dbcache = iw_engine_dbcache_create(pconf, sc->cache_dir ? sc->cache_dir
                          : ap_runtime_dir_relative(ptemp, "iocwatch-cache"));
        rt->engine = iw_engine_compile(pconf, rt->rs, &opts, d);
    }
    if (rt->engine && !d->errors) {
        rt->corr = iw_corr_create(pconf, rt->engine, d);
        iw_alert_prepare(rt->rs, "sigma");      /* the rules' own alert parts */
    }
    if (d->errors || !rt->engine)
        return NULL;
    rt->nrules = iw_engine_rule_count(rt->engine);
    rt->nrs = iw_engine_ruleset(rt->engine)->rules->nelts;
    rt->eval_errs = apr_pcalloc(pconf, sizeof(apr_uint64_t) * ((apr_size_t)rt->nrs + 1));
    return rt;
}


/* Which rule configuration: everything build_rt reads from sc. */
static const char *conf_key(apr_pool_t *p, const iw_srv_conf_t *sc)
{
    const char *k = apr_psprintf(p, "level=%d scan_cache=%d", sc->min_level,
                                 sc->scan_cache);
    int i;
    for (i = 0; sc->rules && i < sc->rules->nelts; i++)
        k = apr_pstrcat(p, k, "\nrules ", APR_ARRAY_IDX(sc->rules, i, const char *), NULL);
    for (i = 0; sc->filters && i < sc->filters->nelts; i++)
        k = apr_pstrcat(p, k, "\nfilters ", APR_ARRAY_IDX(sc->filters, i, const char *), NULL);
    for (i = 0; sc->placeholders && i < sc->placeholders->nelts; i++) {
        const iw_placeholder_t *ph = &APR_ARRAY_IDX(sc->placeholders, i, iw_placeholder_t);
        k = apr_pstrcat(p, k, "\nplaceholder ", ph->name, "=", ph->file, NULL);
    }
    return k;
}

static iw_snaps_t *snaps_get(void)
{
    iw_snaps_t *sn = ap_retained_data_get(IW_SNAPS_KEY);
    return sn ? sn : ap_retained_data_create(IW_SNAPS_KEY, sizeof(*sn));
}

static const iw_snap_t *snap_find(const iw_snaps_t *sn, const char *key)
{
    int i;
    for (i = 0; i < IW_MAX_RT; i++)
        if (sn->s[i].key && !strcmp(sn->s[i].key, key))
            return &sn->s[i];
    return NULL;
}

/* The first error of d, on one line (status page, the one log line). */
static const char *first_error(apr_pool_t *p, const iw_diag_t *d)
{
    int i;
    for (i = 0; i < d->msgs->nelts; i++) {
        const iw_diag_msg_t *m = &APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t);
        if (m->level == IW_DIAG_ERROR) {
            char *t = apr_pstrdup(p, m->text), *c;
            for (c = t; *c; c++)
                if ((unsigned char)*c < 0x20)
                    *c = ' ';
            return t;
        }
    }
    return "unknown error";
}

/* A reload (not a start, not `httpd -t`) found this configuration's rules
 * broken: rebuild the previous generation's from their saved sources and
 * log one error naming the broken file and line.  NULL when there were
 * none (a configuration new in this reload): its servers are then not
 * monitored until a reload with good rules. */
static iw_rt_t *keep_previous_rules(apr_pool_t *pconf, apr_pool_t *ptemp,
                                    server_rec *s, iw_srv_conf_t *sc,
                                    const iw_snaps_t *sn, const iw_diag_t *d)
{
    const iw_snap_t *old = snap_find(sn, conf_key(ptemp, sc));
    iw_diag_t *d2 = iw_diag_create(ptemp);
    const char *why = first_error(pconf, d);
    iw_rt_t *rt = old ? build_rt(pconf, ptemp, sc, old, d2) : NULL;
    int i;

    if (rt)
        rt->stale = why;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, IWLOGNO(0002) IW_TAG "rules of %s not reloaded: "
                 "%s (%d error(s); `apachectl configtest` lists them); %s",
                 server_desc(ptemp, s), why, d->errors, rt ? apr_psprintf(ptemp,
                 "still serving with the previous generation's %d rule(s)",
                 rt->nrules) : "no earlier rules of this configuration: not "
                 "monitored until a reload with good rules");
    for (i = 0; i < d->msgs->nelts; i++)      /* the rest: for the curious */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, IWLOGNO(0003) IW_TAG "%s",
                     APR_ARRAY_IDX(d->msgs, i, iw_diag_msg_t).text);
    if (old && !rt) {               /* never: the sources compiled before */
        log_diags(s, d2);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, IWLOGNO(0004) IW_TAG "the previous rules "
                     "of %s did not compile again", server_desc(ptemp, s));
    }
    return rt;
}

/* After a good pass: the sources of every configuration now in force
 * become the ones a later broken reload falls back to (a configuration
 * running on fallback rules keeps its older sources); the rest is freed. */
static void snaps_commit(apr_pool_t *ptemp, iw_snaps_t *sn)
{
    iw_snap_t next[IW_MAX_RT];
    int i, j;

    memset(next, 0, sizeof(next));
    for (j = 0; j < G->nrts; j++) {
        const iw_rt_t *rt = G->rts[j];
        const char *key = conf_key(ptemp, rt->key);
        if (rt->stale) {
            for (i = 0; i < IW_MAX_RT; i++)
                if (sn->s[i].key && !strcmp(sn->s[i].key, key)) {
                    next[j] = sn->s[i];
                    memset(&sn->s[i], 0, sizeof(sn->s[i]));
                    break;
                }
            continue;
        }
        next[j].blob = iw_ruleset_sources_dump(rt->rs, &next[j].len);
        next[j].key = next[j].blob ? strdup(key) : NULL;
        if (!next[j].key) {
            free(next[j].blob);
            memset(&next[j], 0, sizeof(next[j]));
        }
    }
    for (i = 0; i < IW_MAX_RT; i++) {
        free(sn->s[i].key);
        free(sn->s[i].blob);
    }
    memcpy(sn->s, next, sizeof(next));
}

static apr_status_t iw_global_cleanup(void *v);

/* `httpd -k stop|restart|graceful|graceful-stop` only signals the running
 * server, after reading the config: it must work while a rule file is
 * broken (the running server re-reads the rules itself on restart).  The
 * MPM removes -k from process->argv, so look at the original command line
 * (Linux /proc; elsewhere the rules are validated as on start). */
static int signalling_only(apr_pool_t *p)
{
    apr_file_t *f;
    char buf[4096];
    apr_size_t n = sizeof(buf) - 1, i;
    const char *prev = "";
    if (apr_file_open(&f, "/proc/self/cmdline", APR_FOPEN_READ, 0, p)
        != APR_SUCCESS)
        return 0;
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS && n == 0) {
        apr_file_close(f);
        return 0;
    }
    apr_file_close(f);
    buf[n] = '\0';
    for (i = 0; i < n; i += strlen(buf + i) + 1) {
        const char *a = buf + i, *k = NULL;
        if (!strcmp(prev, "-k"))
            k = a;
        else if (!strncmp(a, "-k", 2) && a[2])
            k = a + 2;
        if (k)
            return strcmp(k, "start") != 0;
        prev = a;
    }
    return 0;
}

/* Every pass (also `httpd -t`): compile so that a broken rule fails here,
 * before httpd detaches, with file:line:col on stderr. */
static int iw_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s0)
{
    server_rec *s;
    iw_snaps_t *sn;
    int failed = 0, j, reload;

    G = apr_pcalloc(pconf, sizeof(*G));
    G->pool = pconf;
    G->relay_fd = -1;               /* relay_start sets it */
    apr_pool_cleanup_register(pconf, NULL, iw_global_cleanup,
                              apr_pool_cleanup_null);
    if (signalling_only(ptemp))
        return OK;
    /* a restart (SIGHUP/SIGUSR1, generation 2 on): broken rules must not
     * stop the server, which is running; start and `httpd -t` fail */
    reload = ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL
             && ap_state_query(AP_SQ_CONFIG_GEN) >= 2;
    sn = snaps_get();
    for (s = s0; s; s = s->next) {
        iw_srv_conf_t *sc = srv_conf(s);
        sc->rt = -1;
        if (!sc->rules || !sc->rules->nelts)
            continue;
        for (j = 0; j < G->nrts; j++)
            if (same_rt(G->rts[j]->key, sc))
                break;
        if (j == G->nrts) {
            iw_rt_t *rt;
            iw_diag_t *d = iw_diag_create(ptemp);
            if (G->nrts == IW_MAX_RT) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                             IWLOGNO(0005) IW_TAG "more than %d distinct rule configurations",
                             IW_MAX_RT);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            rt = build_rt(pconf, ptemp, sc, NULL, d);
            if (!rt && reload) {
                if (!(rt = keep_previous_rules(pconf, ptemp, s, sc, sn, d)))
                    continue;       /* this server unmonitored (logged) */
            } else {
                log_diags(s, d);
            }
            if (!rt) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s,
                             IWLOGNO(0006) IW_TAG "%d error(s) in the IocWatchRules of %s",
                             d->errors, server_desc(ptemp, s));
                failed = 1;         /* kept (engine NULL): reported once */
                rt = apr_pcalloc(pconf, sizeof(*rt));
                rt->key = sc;
            }
            G->rts[G->nrts++] = rt;
        }
        sc->rt = j;
    }
    if (failed)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL)
        snaps_commit(ptemp, sn);
    return OK;
}

/* SetHandler expressions of server config (status_allowed) */
static const void **iw_status_exprs;    /* pconf; reset in pre_config */
static int iw_status_nexprs;
static void status_collect(apr_pool_t *pconf, server_rec *s0);

static int iw_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    G = NULL;
    iw_status_exprs = NULL;
    iw_status_nexprs = 0;
    iw_inspect_limit = IW_DEF_INSPECT;
    /* The correlation table locks itself (partition mutexes inside the
     * shared block, docs/CORRELATION.md); the type stays registered only so
     * that existing `Mutex ... iocwatch-corr` lines still parse. */
    return ap_mutex_register(pconf, IW_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* -------------------------------------------------- shared correlation mem */

static const char *rt_key(apr_pool_t *p, const iw_rt_t *rt)
{
    const apr_array_header_t *a = rt->key->rules;
    return apr_array_pstrcat(p, a, '|');
}

/* A fresh segment: anonymous first, named (in DefaultRuntimeDir) when the
 * platform has no anonymous shared memory. */
/* The name-based fallback tells its blocks apart by idx: the state tables
 * 0 .. IW_MAX_RT-1, then these. */
#define IW_SHM_METRICS IW_MAX_RT
#define IW_SHM_BAN     (IW_MAX_RT + 1)

static apr_status_t shm_make(apr_shm_t **shm, apr_size_t bytes, int idx,
                             server_rec *s, apr_pool_t *pool)
{
    apr_status_t rv = apr_shm_create(shm, bytes, NULL, pool);
    if (rv == APR_ENOTIMPL) {
        const char *fn = ap_runtime_dir_relative(pool, apr_psprintf(pool,
                             "iocwatch-corr.%ld.%d", (long)getpid(), idx));
        apr_shm_remove(fn, pool);
        rv = apr_shm_create(shm, bytes, fn, pool);
    }
    return rv;
}

/* Does the previous generation's table fit these rules (same correlation
 * rules, fingerprint and size)?  Probed on a copy: iw_corr_mem_attach
 * re-initialises a block that does not fit, and old children may still be
 * using the original. */
static int table_fits(const iw_rt_t *rt, const iw_shm_slot_t *slot,
                      apr_size_t bytes, const char *key)
{
    void *probe;
    int kept;
    if (!slot->shm || slot->bytes != bytes || strcmp(slot->key, key))
        return 0;
    if (!(probe = malloc(bytes)))
        return 0;
    memcpy(probe, slot->mem, bytes);
    kept = iw_corr_mem_attach(rt->corr, probe, bytes);
    free(probe);
    return kept;
}

/* The table of one rule configuration.  When the previous generation's
 * table fits, it is shared as is -- its partition locks are inside it, so
 * old children finishing their requests during a graceful restart keep
 * counting into it with the new ones, and counts stay exact across the
 * restart.  Otherwise a fresh segment
 * (old children keep the old one until they exit). */
static int setup_corr(server_rec *s, iw_retained_t *ret, int idx, iw_rt_t *rt)
{
    iw_shm_slot_t *slot = &ret->slot[idx];
    apr_int64_t want = rt->key->shm_size == IW_UNSET ? IW_DEF_SHM
                                                     : rt->key->shm_size;
    apr_size_t bytes = (apr_size_t)want & ~(apr_size_t)7;
    apr_size_t slots = iw_corr_table_slots(iw_corr_slot_size(rt->corr), bytes);
    const char *key = rt_key(G->pool, rt);
    apr_shm_t *shm;
    apr_status_t rv;
    int kept;

    if (slots == 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, IWLOGNO(0007) IW_TAG
                     "IocWatchSharedMemory %" APR_INT64_T_FMT " is too small "
                     "for one entry", want);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    kept = table_fits(rt, slot, bytes, key);
    if (!kept) {
        rv = shm_make(&shm, bytes, idx, s, s->process->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, IWLOGNO(0008) IW_TAG "cannot create "
                         "%" APR_SIZE_T_FMT " bytes of shared memory", bytes);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        iw_corr_mem_init(rt->corr, apr_shm_baseaddr_get(shm), bytes);
        if (slot->shm)              /* the parent's mapping only */
            apr_shm_destroy(slot->shm);
        slot->shm = shm;
        slot->mem = apr_shm_baseaddr_get(shm);
        slot->bytes = bytes;
        apr_cpystrn(slot->key, key, sizeof(slot->key));
    }
    rt->mem = slot->mem;
    rt->mem_bytes = bytes;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, IWLOGNO(0009) IW_TAG "state table: "
                 "%" APR_SIZE_T_FMT " entries in %" APR_SIZE_T_FMT " bytes, "
                 "%s", slots, bytes, kept ? "kept from the previous generation"
                 : "new");
    return OK;
}

/* ---------------------------------------------------------- alert targets */

static int notify_index(apr_array_header_t *cfgs, const iw_srv_conf_t *sc)
{
    iw_notify_cfg_t c = {0};
    int i;
    c.target = sc->target ? sc->target : "unix:/dev/log";
    c.format = sc->format == IW_UNSET ? 0 : (iw_format_t)sc->format;
    c.facility = sc->facility == IW_UNSET ? IW_DEF_FACILITY : sc->facility;
    c.queue_size = sc->queue_size == IW_UNSET ? IW_DEF_QUEUE : sc->queue_size;
    c.app_name = "iocwatch";
    for (i = 0; i < cfgs->nelts; i++) {
        const iw_notify_cfg_t *o = &APR_ARRAY_IDX(cfgs, i, iw_notify_cfg_t);
        if (!strcmp(o->target, c.target) && o->format == c.format
            && o->facility == c.facility && o->queue_size == c.queue_size)
            return i;
    }
    APR_ARRAY_PUSH(cfgs, iw_notify_cfg_t) = c;
    return cfgs->nelts - 1;
}

static apr_status_t notify_stop_all(void *v)
{
    int i;
    /* a forked child inherits the parent's pool cleanups: only the process
     * that started the sender threads may stop them */
    if (!G || !G->notifies || G->notify_owner != getpid())
        return APR_SUCCESS;
    for (i = 0; i < G->ntcfg->nelts; i++)
        if (G->notifies[i])
            iw_notify_stop(G->notifies[i], IW_FLUSH_WAIT);
    G->notifies = NULL;
    if (G->npool)
        apr_pool_destroy(G->npool);
    G->npool = NULL;
    return APR_SUCCESS;
}

/* iw_notify's on_state, in a sender thread (never a request thread): one
 * line when a target's delivery starts failing, one when it recovers (both
 * at warn, so that the default LogLevel shows the pair). */
static void notify_state(void *data, const char *target, int failing, int err,
                         uint64_t errors)
{
    if (failing)
        ap_log_error(APLOG_MARK, APLOG_WARNING, err, ap_server_conf,
                     IWLOGNO(0021) IW_TAG "alert target %s: delivery failing; "
                     "alerts wait in the queue (dropped and counted when it "
                     "is full) while the sender retries", target);
    else
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     IWLOGNO(0022) IW_TAG "alert target %s: delivery recovered "
                     "after %" APR_UINT64_T_FMT " failed attempt(s)", target,
                     (apr_uint64_t)errors);
}

/* Create and start this process's queues; failures are logged and leave a
 * NULL queue (alerts of that target are then counted as failed).  The
 * queues live in an unmanaged pool destroyed only by notify_stop_all in the
 * owning process: a forked child must never tear down (join) the parent's
 * sender threads when it exits and apr_terminate destroys every managed
 * pool. */
static void notify_start_all(apr_pool_t *p, server_rec *s)
{
    int i;
    if (apr_pool_create_unmanaged_ex(&G->npool, NULL, NULL) != APR_SUCCESS) {
        G->npool = NULL;
        return;
    }
    G->notifies = apr_pcalloc(G->npool,
                              sizeof(iw_notify_t *) * (G->ntcfg->nelts + 1));
    G->notify_owner = getpid();
    for (i = 0; i < G->ntcfg->nelts; i++) {
        iw_notify_cfg_t *c = &APR_ARRAY_IDX(G->ntcfg, i, iw_notify_cfg_t);
        const char *err = NULL;
        iw_notify_t *n;
        c->hostname = G->hostname;
        c->on_state = notify_state;
        n = iw_notify_create(G->npool, c, &err);
        if (!n || iw_notify_start(n) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, IWLOGNO(0010) IW_TAG "alert target %s: "
                         "%s", c->target, err ? err : "cannot start sender");
            continue;
        }
        G->notifies[i] = n;
    }
    apr_pool_cleanup_register(p, NULL, notify_stop_all, apr_pool_cleanup_null);
}

/* ------------------------------------------------ the parent's alert relay */

/* The parent process (root when httpd starts as root) does no network I/O.
 * It has alerts of its own -- error-log entries it writes itself, such as
 * "AH00052: child pid N exit signal Segmentation fault" -- and hands them,
 * rendered, over a socketpair to a relay process it forks in post_config
 * (as mod_cgid forks its daemon): the relay drops to User/Group
 * (ap_run_drop_privileges, the children's own way), closes the listeners
 * and runs the sender threads, one per alert target, as a child does.  The
 * parent's send is non-blocking (a full socket drops the alert, counted in
 * enqueue_failed).  The relay ends when the parent's end closes (restart,
 * stop: it flushes first, at most IW_FLUSH_WAIT), or with the parent. */

typedef struct iw_relay_hdr {
    uint32_t nt;
    int32_t lvl;
    int64_t t;
} iw_relay_hdr_t;

static int relay_send(int nt, iw_level_t lvl, apr_time_t t, const char *json,
                      size_t len)
{
    iw_relay_hdr_t h;
    struct iovec iov[2];
    struct msghdr mh;

    if (!G || G->relay_fd < 0 || G->relay_owner != getpid() || nt < 0)
        return -1;
    h.nt = (uint32_t)nt;
    h.lvl = (int32_t)lvl;
    h.t = t;
    iov[0].iov_base = &h;
    iov[0].iov_len = sizeof(h);
    iov[1].iov_base = (void *)json;
    iov[1].iov_len = len;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    return sendmsg(G->relay_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)
           == (ssize_t)(sizeof(h) + len) ? 0 : -1;
}

/* The relay process: never returns. */
static void __attribute__((noreturn)) relay_main(server_rec *s, int fd)
{
    static char buf[sizeof(iw_relay_hdr_t) + IW_NOTIFY_MSG_MAX + 1];
    apr_pool_t *p;
    int i, n;

    signal(SIGHUP, SIG_IGN);        /* the parent's signals are not ours */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    /* out of httpd's process group: the MPM signals its group on stop and
     * restart (SIGTERM for the workers); the relay ends when the parent
     * closes its end, after flushing, or when the parent dies */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    ap_close_listeners();
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS
        || ap_run_drop_privileges(p, s) != OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, IWLOGNO(0011) IW_TAG "alert relay: cannot "
                     "drop privileges; the parent's alerts are not sent");
        _exit(1);
    }
    G->relay_fd = -1;
    G->notifies = NULL;
    notify_start_all(p, s);
    G->notify_owner = getpid();
    for (;;) {
        iw_relay_hdr_t h;
        n = (int)recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)                     /* the parent closed its end */
            break;
        if ((size_t)n < sizeof(h))
            continue;
        memcpy(&h, buf, sizeof(h));
        if (h.nt < (uint32_t)G->ntcfg->nelts && G->notifies[h.nt])
            iw_notify_enqueue(G->notifies[h.nt], (iw_level_t)h.lvl, h.t,
                              buf + sizeof(h), (size_t)n - sizeof(h));
    }
    for (i = 0; i < G->ntcfg->nelts; i++)
        if (G->notifies[i])
            iw_notify_stop(G->notifies[i], IW_FLUSH_WAIT);
    _exit(0);
}

/* The MPM reaps the relay if it dies during the generation. */
static void relay_maintenance(int reason, void *data, int status)
{
    if (reason == APR_OC_REASON_RESTART) {  /* relay_stop reaps it */
        apr_proc_other_child_unregister(data);
        return;
    }
    if (reason == APR_OC_REASON_DEATH || reason == APR_OC_REASON_LOST) {
        apr_proc_other_child_unregister(data);
        if (G && G->relay_owner == getpid()) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf, IWLOGNO(0012) IW_TAG
                         "alert relay (pid %ld) exited; the parent's alerts "
                         "are not sent until the next restart",
                         (long)G->relay_pid);
            G->relay_pid = 0;
        }
    }
}

/* pconf cleanup in the parent (restart, stop): close our end, the relay
 * flushes and exits; reap it here (bounded), so that the MPM never meets
 * an unknown child. */
static apr_status_t relay_stop(void *v)
{
    int i, st;
    pid_t pid;
    if (!G || G->relay_owner != getpid() || G->relay_fd < 0)
        return APR_SUCCESS;
    close(G->relay_fd);
    G->relay_fd = -1;
    if ((pid = G->relay_pid) <= 0)
        return APR_SUCCESS;
    G->relay_pid = 0;
    for (i = 0; i < 150; i++) {         /* IW_FLUSH_WAIT + margin */
        if (waitpid(pid, &st, WNOHANG) != 0)
            return APR_SUCCESS;
        apr_sleep(apr_time_from_msec(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return APR_SUCCESS;
}

static void relay_start(apr_pool_t *pconf, server_rec *s)
{
    int sv[2];
    pid_t pid;

    G->relay_fd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, IWLOGNO(0013) IW_TAG "alert relay: "
                     "socketpair failed; the parent's alerts are not sent");
        return;
    }
    apr_pool_cleanup_register(pconf, NULL, relay_stop, apr_pool_cleanup_null);
    if ((pid = fork()) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, IWLOGNO(0014) IW_TAG "alert relay: "
                     "fork failed; the parent's alerts are not sent");
        close(sv[0]);
        close(sv[1]);
        return;
    }
    if (pid == 0) {
        close(sv[0]);
        relay_main(s, sv[1]);
    }
    close(sv[1]);
    G->relay_fd = sv[0];
    G->relay_pid = pid;
    G->relay_owner = getpid();
    G->relay_proc.pid = pid;
    apr_proc_other_child_register(&G->relay_proc, relay_maintenance,
                                  &G->relay_proc, NULL, pconf);
}

/* A child must not hold the parent's end (the relay would never see it
 * close). */
static void relay_child_init(void)
{
    if (G && G->relay_fd >= 0 && G->relay_owner != getpid()) {
        close(G->relay_fd);
        G->relay_fd = -1;
    }
}

/* ------------------------------------------- active response: ban runtime */

/* One server-wide table of denied clients in shared memory (src/iw_ban.c),
 * kept across restarts in its own retained slot.  The request path is
 * iw_ban_check (post_read_request, after mod_remoteip): a lock-free lookup;
 * everything else here runs only when a rule alerts, a banned client comes
 * back, the parent's monitor ticks, or an admin asks. */

#define IW_BAN_RETAINED_KEY "mod_iocwatch-ban"
#define IW_BAN_NOTE         "iocwatch-ban"   /* r->notes: refused|would-refuse */
#define IW_BAN_SWEEP_MAX    32
#define IW_BAN_LIST_MAX     1000

typedef struct iw_ban_retained {
    apr_shm_t *shm;
    void *mem;
    apr_size_t bytes;
} iw_ban_retained_t;

static iw_ban_net_t ban_loopback[2];          /* the default allow-list */

static int ban_mode(const iw_srv_conf_t *sc)
{
    return sc->ban && sc->ban->mode > 0 ? sc->ban->mode : IW_BAN_OFF;
}

static int ban_allowed(const iw_srv_conf_t *sc, const iw_ban_key_t *k)
{
    const apr_array_header_t *a = sc->ban ? sc->ban->allow : NULL;
    if (!a)
        return iw_ban_net_match(ban_loopback, 2, k);
    return iw_ban_net_match((const iw_ban_net_t *)a->elts, a->nelts, k);
}

/* Alerts about bans go to the server's queue, else the first one working
 * (the parent's monitor has no server of its own). */
static iw_notify_t *ban_queue(const iw_srv_conf_t *sc)
{
    int i;
    if (!G->notifies)
        return NULL;
    if (sc && sc->nt >= 0 && G->notifies[sc->nt])
        return G->notifies[sc->nt];
    for (i = 0; i < G->ntcfg->nelts; i++)
        if (G->notifies[i])
            return G->notifies[i];
    return NULL;
}

static void ban_alert(const iw_srv_conf_t *sc, iw_ban_event_t kind,
                      const iw_ban_rec_t *rec, apr_time_t now)
{
    char buf[2048];
    size_t len = iw_ban_alert_json(buf, sizeof(buf), kind, rec, now, G->hostname);
    iw_notify_t *n = ban_queue(sc);
    CTR_INC(alerts);
    /* the parent (its monitor) has no queue: its alerts go via the relay */
    if (!len || (n ? iw_notify_enqueue(n, iw_ban_alert_level(kind), now, buf, len) != 0
                   : relay_send(sc && sc->nt >= 0 ? sc->nt : 0,
                                iw_ban_alert_level(kind), now, buf, len) != 0))
        CTR_INC(enqueue_failed);
}

/* Report the bans whose time is over: whoever notices first (the parent's
 * monitor, a child adding a ban or meeting the client again, the status
 * page) removes them, so each end is alerted once. */
static void ban_sweep(const iw_srv_conf_t *sc, apr_time_t now)
{
    iw_ban_rec_t out[IW_BAN_SWEEP_MAX];
    int i, n;
    do {
        n = iw_ban_sweep(G->ban, now, out, IW_BAN_SWEEP_MAX);
        for (i = 0; i < n; i++)
            ban_alert(sc, IW_BAN_EV_EXPIRED, &out[i], now);
    } while (n == IW_BAN_SWEEP_MAX);
}

static int trigger_matches(const iw_ban_trigger_t *tr, const iw_rule_t *rule)
{
    int i;
    switch (tr->kind) {
    case IW_BAN_RULE:
        return (rule->id && !strcmp(tr->value, rule->id))
            || (rule->name && !strcmp(tr->value, rule->name));
    case IW_BAN_TAG:
        for (i = 0; rule->tags && i < rule->tags->nelts; i++)
            if (!strcasecmp(tr->value, APR_ARRAY_IDX(rule->tags, i, const char *)))
                return 1;
        return 0;
    default:
        return rule->level >= tr->level;
    }
}

/* The first trigger (in config order) that one of the event's alerts
 * matches, and that alert's rule.  Correlation alerts count when they are
 * about this event's client (with_event) and alert (level). */
static const iw_ban_trigger_t *ban_match(const apr_array_header_t *trs,
                                         const iw_tls_t *t, int nalert,
                                         const iw_corr_alert_t *out, int nc,
                                         iw_level_t min, const iw_rule_t **rule)
{
    int i, j;
    for (i = 0; i < trs->nelts; i++) {
        const iw_ban_trigger_t *tr = &APR_ARRAY_IDX(trs, i, iw_ban_trigger_t);
        for (j = 0; j < nalert; j++)
            if (trigger_matches(tr, t->sel[j].rule)) {
                *rule = t->sel[j].rule;
                return tr;
            }
        for (j = 0; j < nc; j++)
            if (out[j].with_event && out[j].rule->level >= min
                && trigger_matches(tr, out[j].rule)) {
                *rule = out[j].rule;
                return tr;
            }
    }
    return NULL;
}

/* An event alerted (t->sel[0..nalert), out[0..nc)): ban its client when a
 * trigger matches.  One alert per ban; an active ban is not extended. */
static void __attribute__((noinline, cold))
ban_on_alerts(const iw_srv_conf_t *sc, iw_tls_t *t, int nalert,
              const iw_corr_alert_t *out, int nc, iw_level_t min)
{
    const iw_ban_trigger_t *tr;
    const iw_rule_t *rule = NULL;
    iw_str_t cip, rid;
    iw_ban_key_t k;
    iw_ban_rec_t ev, rec;
    apr_time_t now;
    char ip[64];
    int mode = ban_mode(sc), nev, rv;

    if (mode == IW_BAN_OFF || !sc->ban->triggers
        || !(tr = ban_match(sc->ban->triggers, t, nalert, out, nc, min, &rule)))
        return;
    cip = iw_event_get(&t->ev, IW_F_C_IP);
    if (!cip.p || cip.len >= sizeof(ip))
        return;
    memcpy(ip, cip.p, cip.len);
    ip[cip.len] = '\0';
    if (iw_ban_key_parse(ip, &k) != 0)
        return;
    if (ban_allowed(sc, &k)) {
        iw_ban_count_allowlisted(G->ban);
        return;
    }
    memset(&rec, 0, sizeof(rec));
    rid = iw_event_get(&t->ev, IW_F_REQUEST_ID);
    if (rid.p)
        apr_cpystrn(rec.request_id, rid.p, rid.len < sizeof(rec.request_id)
                    ? rid.len + 1 : sizeof(rec.request_id));
    apr_cpystrn(rec.rule, rule->id ? rule->id : rule->name, sizeof(rec.rule));
    now = apr_time_now();
    ban_sweep(sc, now);
    rec.key = k;
    rec.since = now;
    rec.seconds = tr->seconds;
    rec.until = now + apr_time_from_sec(tr->seconds);
    rec.flags = mode == IW_BAN_DRY ? IW_BAN_F_DRYRUN : 0;
    rv = iw_ban_add(G->ban, &k, now, tr->seconds, rec.flags, rec.rule,
                    rec.request_id, &ev, &nev);
    if (nev)
        ban_alert(sc, IW_BAN_EV_EVICTED, &ev, now);
    if (rv == IW_BAN_ADDED)
        ban_alert(sc, mode == IW_BAN_DRY ? IW_BAN_EV_WOULD : IW_BAN_EV_BAN,
                  &rec, now);
}

/* A banned client's request (slot >= 0), or one whose ban is over but not
 * reported yet. */
static int __attribute__((noinline, cold))
ban_deny(request_rec *r, const iw_srv_conf_t *sc, const iw_ban_key_t *k,
         int slot, unsigned fl)
{
    int would;
    if (slot < 0) {
        ban_sweep(sc, apr_time_now());
        return DECLINED;
    }
    if (ban_allowed(sc, k))         /* allow-listed since (graceful restart) */
        return DECLINED;
    would = sc->ban->mode == IW_BAN_DRY || (fl & IW_BAN_F_DRYRUN);
    iw_ban_count_refused(G->ban, slot, would);
    if (would) {
        apr_table_setn(r->notes, IW_BAN_NOTE, "would-refuse");
        return DECLINED;
    }
    /* counted, not evaluated (log_transaction skips it): a refused request
     * never alerts nor extends its ban */
    apr_table_setn(r->notes, IW_BAN_NOTE, "refused");
    r->connection->keepalive = AP_CONN_CLOSE;
    return sc->ban->status > 0 ? sc->ban->status : IW_BAN_DEF_STATUS;
}

/* iw_ban_check with a ban active somewhere: is this client banned?  (Its
 * key on the stack takes a frame and a stack-protector check, which the
 * requests of a server without bans do not pay.) */
static int __attribute__((noinline)) ban_check_client(request_rec *r)
{
    const iw_srv_conf_t *sc;
    const apr_sockaddr_t *sa;
    iw_ban_key_t k;
    unsigned fl = 0;
    int slot;

    sc = srv_conf(r->server);
    if (!sc->ban || sc->ban->mode <= 0 || !(sa = r->useragent_addr))
        return DECLINED;
    if (sa->family == AF_INET)
        k = iw_ban_key_v4(sa->ipaddr_ptr);
#if APR_HAVE_IPV6
    else if (sa->family == AF_INET6)
        k = iw_ban_key_v6(sa->ipaddr_ptr);
#endif
    else
        return DECLINED;
    slot = iw_ban_lookup(G->ban, &k, r->request_time, &fl);
    if (slot < 0 && !(fl & IW_BAN_F_ENDED))
        return DECLINED;
    return ban_deny(r, sc, &k, slot, fl);
}

/* post_read_request, after mod_remoteip: is this client banned? */
IW_HOT
static int iw_ban_check(request_rec *r)
{
    if (!G || !G->ban || !iw_ban_any(G->ban))   /* no ban: three loads */
        return DECLINED;
    return ban_check_client(r);
}

/* log_transaction: a request this module refused is not evaluated. */
static int ban_refused(const request_rec *r)
{
    const char *v;
    return G->ban && (v = apr_table_get(r->notes, IW_BAN_NOTE)) && v[0] == 'r';
}

/* The parent, about every ten seconds: report ended bans even when their
 * clients never come back. */
static int iw_ban_monitor(apr_pool_t *p, server_rec *s)
{
    apr_time_t now;
    if (!G || !G->ban)
        return DECLINED;
    now = apr_time_now();
    if (iw_ban_sweep_due(G->ban, now))
        ban_sweep(srv_conf(s), now);
    return DECLINED;
}

/* A new table got the active bans of the previous one (IocWatchBanTableSize
 * changed): each keeps its end, trigger and request id. */
static void ban_migrate(void *to, void *from, apr_pool_t *p, server_rec *s)
{
    uint32_t cap = iw_ban_capacity(from);
    iw_ban_rec_t *recs = apr_palloc(p, sizeof(*recs) * cap), ev;
    apr_time_t now = apr_time_now();
    int i, n = iw_ban_list(from, now, recs, (int)cap), nev, lost = 0;
    for (i = 0; i < n; i++) {
        int secs = (int)((recs[i].until - now + APR_USEC_PER_SEC - 1)
                         / APR_USEC_PER_SEC);
        iw_ban_add(to, &recs[i].key, now, secs, recs[i].flags, recs[i].rule,
                   recs[i].request_id, &ev, &nev);
        lost += nev;
    }
    /* no alert queue yet (post_config): the error log says it */
    if (lost)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, IWLOGNO(0015) IW_TAG "ban table: %d of "
                     "%d bans did not fit the new IocWatchBanTableSize (the "
                     "soonest ending were dropped, counted in ban_evicted)",
                     lost, n);
}

/* post_config: the table, when any server has IocWatchBan On or DryRun.
 * An unchanged IocWatchBanTableSize keeps the previous generation's table
 * as it is (bans survive graceful and plain restarts). */
static int ban_setup(server_rec *s0)
{
    iw_ban_retained_t *ret = ap_retained_data_get(IW_BAN_RETAINED_KEY);
    const iw_srv_conf_t *mc = srv_conf(s0);
    server_rec *s;
    apr_size_t bytes;
    apr_shm_t *shm;
    apr_status_t rv;
    int want = 0, max, kept;

    if (!ret)
        ret = ap_retained_data_create(IW_BAN_RETAINED_KEY, sizeof(*ret));
    for (s = s0; s; s = s->next)
        if (srv_conf(s)->rt >= 0 && ban_mode(srv_conf(s)) != IW_BAN_OFF)
            want = 1;
    if (!want) {                    /* bans off: so is the table */
        if (ret->shm)
            apr_shm_destroy(ret->shm);
        memset(ret, 0, sizeof(*ret));
        return OK;
    }
    iw_ban_net_parse("127.0.0.0/8", &ban_loopback[0]);
    iw_ban_net_parse("::1", &ban_loopback[1]);
    max = mc->ban && mc->ban->max > 0 ? mc->ban->max : IW_BAN_DEF_MAX;
    bytes = iw_ban_mem_size((uint32_t)max);
    kept = ret->shm && ret->bytes == bytes && iw_ban_mem_check(ret->mem, bytes);
    if (!kept) {
        void *mem = NULL;
        /* 64 bytes more: the block starts on a cache line (apr_shm's base
         * is only 8-byte aligned) */
        rv = shm_make(&shm, bytes + 64, IW_SHM_BAN, s0, s0->process->pool);
        if (rv == APR_SUCCESS)
            mem = (void *)(((uintptr_t)apr_shm_baseaddr_get(shm) + 63)
                           & ~(uintptr_t)63);
        if (rv != APR_SUCCESS || iw_ban_mem_init(mem, bytes, (uint32_t)max) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s0, IWLOGNO(0016) IW_TAG "cannot create "
                         "the ban table (%" APR_SIZE_T_FMT " bytes of shared "
                         "memory)", bytes);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (ret->shm) {
            if (iw_ban_mem_check(ret->mem, ret->bytes))
                ban_migrate(mem, ret->mem, G->pool, s0);
            apr_shm_destroy(ret->shm);  /* the parent's mapping only */
        }
        ret->shm = shm;
        ret->mem = mem;
        ret->bytes = bytes;
    }
    G->ban = ret->mem;
    {
        iw_ban_stats_t st;
        iw_ban_get_stats(G->ban, &st);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s0, IWLOGNO(0017) IW_TAG "ban table: %"
                     APR_UINT64_T_FMT " active of at most %d, %s", st.active,
                     max, kept ? "kept from the previous generation" : "new");
    }
    return OK;
}

/* Text/plain values: no line breaks or control bytes from rule ids. */
static const char *ban_text(apr_pool_t *p, const char *s)
{
    char *c = apr_pstrdup(p, s), *q;
    for (q = c; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == ' ')
            *q = '_';
    return c;
}

/* Status page section: counters (all processes) and the active bans. */
static void status_bans(request_rec *r)
{
    static const char *const modes[] = {"off", "on", "dry-run"};
    const iw_srv_conf_t *sc = srv_conf(r->server);
    apr_time_t now = apr_time_now();
    iw_ban_rec_t *recs;
    iw_ban_stats_t st;
    char ip[64];
    int i, n;

    if (!G || !G->ban)
        return;
    ban_sweep(sc, now);
    iw_ban_get_stats(G->ban, &st);
#define B(f) ap_rprintf(r, "ban_" #f ": %" APR_UINT64_T_FMT "\n", st.f)
    ap_rprintf(r, "ban_mode: %s\n", modes[ban_mode(sc)]);
    B(capacity); B(active); B(added); B(dry_added); B(exists); B(expired);
    B(lifted); B(evicted); B(refused); B(would_refuse); B(allowlisted);
    B(read_retries); B(read_locked); B(lock_recovered); B(lock_failures);
#undef B
    recs = apr_palloc(r->pool, sizeof(*recs) * IW_BAN_LIST_MAX);
    n = iw_ban_list(G->ban, now, recs, IW_BAN_LIST_MAX);
    for (i = 0; i < n; i++) {
        iw_ban_key_format(&recs[i].key, ip, sizeof(ip));
        ap_rprintf(r, "ban: %s remaining_s=%ld seconds=%d refused=%"
                   APR_UINT64_T_FMT " dry_run=%d rule=%s request_id=%s\n", ip,
                   (long)((recs[i].until - now + APR_USEC_PER_SEC - 1)
                          / APR_USEC_PER_SEC), (int)recs[i].seconds,
                   recs[i].refused, (recs[i].flags & IW_BAN_F_DRYRUN) != 0,
                   ban_text(r->pool, recs[i].rule),
                   ban_text(r->pool, recs[i].request_id[0]
                                     ? recs[i].request_id : "-"));
    }
}

static int token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i;
    unsigned char d = la != lb;
    for (i = 0; i < lb; i++)        /* time independent of where they differ */
        d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return d == 0;
}

static int ban_reply(request_rec *r, int status, const char *text)
{
    r->status = status;
    ap_rputs(text, r);
    return OK;
}

/* Lift one ban (or all: "all"); one line of the reply. */
static const char *ban_lift_one(request_rec *r, const iw_srv_conf_t *sc,
                                const char *what, int *bad)
{
    iw_ban_rec_t rec, *recs;
    iw_ban_key_t k;
    apr_time_t now = apr_time_now();
    int i, n, lifted = 0;

    if (!strcmp(what, "all")) {
        recs = apr_palloc(r->pool, sizeof(*recs) * IW_BAN_LIST_MAX);
        do {
            n = iw_ban_list(G->ban, 0, recs, IW_BAN_LIST_MAX);
            for (i = 0; i < n; i++)
                if (iw_ban_lift(G->ban, &recs[i].key, &rec) == 1) {
                    ban_alert(sc, IW_BAN_EV_LIFTED, &rec, now);
                    lifted++;
                }
        } while (n == IW_BAN_LIST_MAX);
        return apr_psprintf(r->pool, "lifted: %d\n", lifted);
    }
    if (iw_ban_key_parse(what, &k) != 0) {
        *bad = 1;
        return apr_psprintf(r->pool, "not an address: %s\n", ban_text(r->pool, what));
    }
    if (iw_ban_lift(G->ban, &k, &rec) != 1)
        return apr_psprintf(r->pool, "not banned: %s\n", what);
    ban_alert(sc, IW_BAN_EV_LIFTED, &rec, now);
    return apr_psprintf(r->pool, "lifted: %s\n", what);
}

/* POST to the status handler: lift=ADDRESS (repeatable) or lift=all, with
 * the token of IocWatchBanTokenFile in X-IocWatch-Token.  The header also
 * keeps browsers from sending it cross-site (no simple request). */
static int __attribute__((noinline, cold)) ban_control(request_rec *r)
{
    const iw_srv_conf_t *sc = srv_conf(r->server);
    const char *tok = sc->ban ? sc->ban->token : NULL;
    const char *hdr = apr_table_get(r->headers_in, IW_BAN_TOKEN_HDR);
    apr_array_header_t *pairs = NULL;
    const char *out = "";
    int bad = 0;

    ap_set_content_type(r, "text/plain; charset=utf-8");
    if (!G || !G->ban)
        return ban_reply(r, HTTP_NOT_FOUND, "bans are off (IocWatchBan)\n");
    if (!tok)
        return ban_reply(r, HTTP_FORBIDDEN,
                         "ban control is off (IocWatchBanTokenFile)\n");
    if (!hdr || !token_equal(hdr, tok))
        return ban_reply(r, HTTP_FORBIDDEN, "missing or wrong " IW_BAN_TOKEN_HDR "\n");
    if (ap_parse_form_data(r, NULL, &pairs, 64, 65536) != OK || !pairs
        || !pairs->nelts)
        return ban_reply(r, HTTP_BAD_REQUEST, "expected a form: lift=ADDRESS "
                         "(repeatable) or lift=all\n");
    while (pairs->nelts) {
        ap_form_pair_t *pr = apr_array_pop(pairs);
        char buf[128];
        apr_size_t len = sizeof(buf) - 1;
        if (strcmp(pr->name, "lift")
            || apr_brigade_flatten(pr->value, buf, &len) != APR_SUCCESS) {
            out = apr_pstrcat(r->pool, out, "unknown field: ",
                              ban_text(r->pool, pr->name), "\n", NULL);
            bad = 1;
            continue;
        }
        buf[len] = '\0';
        out = apr_pstrcat(r->pool, out, ban_lift_one(r, sc, buf, &bad), NULL);
    }
    return ban_reply(r, bad ? HTTP_BAD_REQUEST : HTTP_OK, out);
}

/* Prometheus series of the ban table (after the metrics block's). */
static void ban_prometheus(request_rec *r)
{
    static const struct { const char *name, *type, *help; size_t off; } m[] = {
#define S(f, t, h) { #f, t, h, offsetof(iw_ban_stats_t, f) }
        S(capacity, "gauge", "Bans the table holds at most (IocWatchBanTableSize)."),
        S(active, "gauge", "Clients denied now (or, dry run, that would be)."),
        S(added, "counter", "Bans added."),
        S(dry_added, "counter", "Dry-run bans added (would deny)."),
        S(expired, "counter", "Bans that ended."),
        S(lifted, "counter", "Bans lifted by an admin."),
        S(evicted, "counter", "Bans evicted early because the table was full."),
        S(refused, "counter", "Requests refused by a ban."),
        S(would_refuse, "counter", "Requests a dry-run ban would have refused."),
        S(allowlisted, "counter", "Triggers for allow-listed clients (not banned)."),
#undef S
    };
    iw_ban_stats_t st;
    size_t i;
    if (!G || !G->ban)
        return;
    iw_ban_get_stats(G->ban, &st);
    for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        const char *sfx = m[i].type[0] == 'c' ? "_total" : "";
        ap_rprintf(r, "# HELP iocwatch_ban_%s%s %s\n# TYPE iocwatch_ban_%s%s %s\n"
                   "iocwatch_ban_%s%s %" APR_UINT64_T_FMT "\n", m[i].name, sfx,
                   m[i].help, m[i].name, sfx, m[i].type, m[i].name, sfx,
                   *(const uint64_t *)((const char *)&st + m[i].off));
    }
}

static void ban_register_hooks(void)
{
    /* mod_remoteip sets the client first (APR_HOOK_FIRST as well) */
    static const char *const after[] = {"mod_remoteip.c", NULL};
    ap_hook_post_read_request(iw_ban_check, after, NULL, APR_HOOK_FIRST);
    ap_hook_monitor(iw_ban_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}

/* --------------------------------------------------------------- lifecycle */

static apr_status_t iw_global_cleanup(void *v)
{
    /* runs when pconf is cleared (restart, stop) -- before mod_so unloads
     * this DSO: no thread or key may point into it afterwards */
    if (G && G->notify_owner == getpid())
        notify_stop_all(NULL);
    if (iw_key_ok) {
        iw_tls_free(pthread_getspecific(iw_key));
        pthread_setspecific(iw_key, NULL);
        pthread_key_delete(iw_key);
        iw_key_ok = 0;
    }
    G = NULL;
    return APR_SUCCESS;
}

/* The shared state table of every rule configuration (correlation state,
 * IocWatchSuppress, the once-a-minute evaluation-error alerts; 4 MiB by
 * default, IocWatchSharedMemory); segments of the previous generation that
 * are not reused are released. */
static int setup_tables(server_rec *s0, iw_retained_t *ret)
{
    int i;

    for (i = 0; i < IW_MAX_RT; i++) {
        iw_rt_t *rt = i < G->nrts ? G->rts[i] : NULL;
        if (rt) {
            if (setup_corr(s0, ret, i, rt) != OK)
                return HTTP_INTERNAL_SERVER_ERROR;
        }
        else if (ret->slot[i].shm) {
            apr_shm_destroy(ret->slot[i].shm);
            memset(&ret->slot[i], 0, sizeof(ret->slot[i]));
        }
    }
    return OK;
}

static void metrics_setup(server_rec *s);
static void metrics_child_init(apr_pool_t *p);

static int iw_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s0)
{
    iw_retained_t *ret;
    server_rec *s;
    int i, stale = 0;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;              /* dry-run pass: compiled in check_config */
    status_collect(pconf, s0);  /* also without rules: the page says so */
    if (!G)
        return OK;
    if (gethostname(G->hostname, sizeof(G->hostname) - 1) != 0)
        apr_cpystrn(G->hostname, "localhost", sizeof(G->hostname));
    G->unique_id = ap_find_linked_module("mod_unique_id.c") != NULL;
    ret = ap_retained_data_get(IW_RETAINED_KEY);
    if (!ret)
        ret = ap_retained_data_create(IW_RETAINED_KEY, sizeof(*ret));
    if (setup_tables(s0, ret) != OK || ban_setup(s0) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (iw_vs_note())           /* a defective Vectorscan path avoided (iw_vs.h) */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s0, IWLOGNO(0024) IW_TAG "%s", iw_vs_note());

    G->ntcfg = apr_array_make(pconf, 2, sizeof(iw_notify_cfg_t));
    for (s = s0; s; s = s->next) {
        iw_srv_conf_t *sc = srv_conf(s);
        const iw_rt_t *rt;
        if (sc->rt < 0)
            continue;
        sc->nt = notify_index(G->ntcfg, sc);
        /* what describe_request asks of every request, known now */
        rt = G->rts[sc->rt];
        sc->time_taken = iw_engine_reads_field(rt->engine, IW_F_TIME_TAKEN)
                         || iw_corr_reads_field(rt->corr, IW_F_TIME_TAKEN);
        sc->host = s->server_hostname;
        sc->host_len = sc->host ? strlen(sc->host) : 0;
    }
    if (G->nrts == 0)
        return OK;
    metrics_setup(s0);

    if (pthread_key_create(&iw_key, iw_tls_free) != 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* a new value per key, also when this DSO is loaded anew (its
     * statics start over): a thread's cached pointer of an older key
     * never matches */
    iw_key_ok = (int)((apr_uint64_t)apr_time_now() % 0x7fffffff) | 1;
    /* the parent logs too ("exit signal ..." when a child crashes): its
     * alerts go through the unprivileged relay.  Not with -X (DEBUG) or
     * -DONE_PROCESS: that process is its own child (child_init starts its
     * senders) */
    if (!ap_exists_config_define("DEBUG") && !ap_exists_config_define("ONE_PROCESS"))
        relay_start(pconf, s0);
    G->ready = 1;
    {   /* the same counts as `iocwatch check` and the status page */
        iw_rule_counts_t sum = {0}, c;
        char txt[256];
        for (i = 0; i < G->nrts; i++) {
            iw_engine_rule_counts(G->rts[i]->engine, &c);
            sum.total += c.total;
            sum.detection += c.detection;
            sum.correlation += c.correlation;
            sum.filters += c.filters;
            sum.not_compiled += c.not_compiled;
            stale += G->rts[i]->stale != NULL;
        }
        iw_rule_counts_text(&sum, txt, sizeof(txt));
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s0, IWLOGNO(0018) IW_TAG "%s in %d "
                     "engine(s), %d alert target(s)%s", txt, G->nrts,
                     G->ntcfg->nelts, stale ? apr_psprintf(ptemp, "; %d engine(s) "
                     "with the previous generation's rules (reload failed)", stale)
                     : "");
    }
    return OK;
}

static void iw_child_init(apr_pool_t *p, server_rec *s)
{
    if (!G || !G->ready)
        return;
    memset(&G->ctr, 0, sizeof(G->ctr));
    relay_child_init();
    metrics_child_init(p);
    notify_start_all(p, s);
}

/* ------------------------------------------------------------- evaluation */

static int excluded(const iw_dir_conf_t *d, const iw_rule_t *rule)
{
    int i;
    for (i = 0; d && d->exclude && i < d->exclude->nelts; i++) {
        const char *x = APR_ARRAY_IDX(d->exclude, i, const char *);
        if ((rule->id && !strcmp(x, rule->id))
            || (rule->name && !strcmp(x, rule->name)))
            return 1;
    }
    return 0;
}

/* IocWatchSuppress: 1 = send (a->suppressed set), 0 = held back. */
static int pass_flood(const iw_srv_conf_t *sc, const iw_rt_t *rt,
                      iw_alert_t *a, const char *grp, size_t glen)
{
    int64_t held = 0;
    if (suppress_secs(sc) <= 0 || !rt->mem)
        return 1;
    if (!iw_corr_suppress(rt->corr, rt->mem, a->rule, grp, glen,
                          a->now, apr_time_from_sec(suppress_secs(sc)), &held)) {
        CTR_INC(suppressed);
        return 0;
    }
    a->suppressed = held;
    return 1;
}

/* Rendered straight into the queue's next slot (no copy); into alertbuf
 * for the relay, or when the queue is full (then only counted). */
static void send_alert(iw_notify_t *n, iw_tls_t *t, const iw_alert_t *a)
{
    iw_alert_info_t info;
    uint64_t ticket = 0;
    char *slot = n ? iw_notify_reserve(n, &ticket) : NULL;
    size_t len = iw_alert_json_info(a, slot ? slot : t->alertbuf, IW_ALERTBUF_SIZE, &info);
    CTR_INC(alerts);
    if (info.rules_omitted > 0)     /* a summary too long for one alert */
        CTR_ADD(rules_omitted, (apr_uint64_t)info.rules_omitted);
    if (t->midx)
        iw_metrics_rule_add(G->metrics, t->midx[a->rule->index], IW_MR_ALERTS);
    if (slot)
        iw_notify_commit(n, ticket, a->rule->level, a->now, len);
    else if (n || relay_send(t->nt, a->rule->level, a->now, t->alertbuf, len) != 0)
        CTR_INC(enqueue_failed);
}

/* Keep the hits this location does not exclude (into t->sel); sets *feeds
 * when one of them feeds a correlation rule. */
static int select_hits(const iw_dir_conf_t *dc, iw_tls_t *t,
                       const iw_hit_t *hits, int nhits, int *feeds)
{
    int i, n = 0;
    for (i = 0; i < nhits && n < IW_MAX_SEL_HITS; i++) {
        if (excluded(dc, hits[i].rule)) {
            CTR_INC(excluded);
            continue;
        }
        t->sel[n++] = hits[i];
        if (hits[i].rule->feeds && hits[i].rule->feeds->nelts)
            *feeds = 1;
    }
    return n;
}

/* Keep the hits that alert themselves (generate, level) at the front of
 * t->sel; returns how many, *best = the highest level among them. */
static int alerting_hits(iw_tls_t *t, int nsel, iw_level_t min, int *best)
{
    int i, n = 0;
    *best = 0;
    for (i = 0; i < nsel; i++) {
        const iw_rule_t *rule = t->sel[i].rule;
        if (!rule->generate)
            continue;
        if (rule->level < min) {
            CTR_INC(below_level);
            continue;
        }
        t->sel[n] = t->sel[i];
        if (rule->level > t->sel[*best].rule->level)
            *best = n;
        n++;
    }
    return n;
}

/* Detection alerts: one per rule, or one summary per request. */
static void send_detections(const iw_srv_conf_t *sc, const iw_rt_t *rt,
                            const iw_dir_conf_t *dc, iw_notify_t *n,
                            iw_tls_t *t, iw_alert_t *a, int nalert, int best)
{
    iw_str_t cip = iw_event_get(a->ev, IW_F_C_IP);
    char grp[128] = "";
    size_t glen = 0;
    int i;

    /* flood-control group: "c-ip=" and the client's first 100 bytes up to
     * a NUL (pass_flood reads it only when IocWatchSuppress is on) */
    if (cip.p && suppress_secs(sc) > 0 && rt->mem) {
        const char *nul;
        glen = cip.len > 100 ? 100 : cip.len;
        if ((nul = memchr(cip.p, '\0', glen))) glen = (size_t)(nul - cip.p);
        memcpy(grp, "c-ip=", 5);
        memcpy(grp + 5, cip.p, glen);
        glen += 5;
        grp[glen] = '\0';
    }
    if (dc && dc->summary == 1) {
        a->rule = t->sel[best].rule;
        a->hit = &t->sel[best];
        a->all_hits = t->sel;
        a->nall_hits = nalert;
        if (pass_flood(sc, rt, a, grp, glen))
            send_alert(n, t, a);
        a->all_hits = NULL;
        a->nall_hits = 0;
        return;
    }
    for (i = 0; i < nalert; i++) {
        a->rule = t->sel[i].rule;
        a->hit = &t->sel[i];
        a->suppressed = 0;
        if (pass_flood(sc, rt, a, grp, glen))
            send_alert(n, t, a);
    }
}

/* Correlation alerts (flood control per rule and correlation group). */
static void send_correlations(const iw_srv_conf_t *sc, const iw_rt_t *rt,
                              iw_notify_t *n, iw_tls_t *t, iw_alert_t *a,
                              const iw_corr_alert_t *out, int nc, iw_level_t min)
{
    iw_event_t *ev = a->ev;
    int i;
    a->hit = NULL;
    for (i = 0; i < nc; i++) {
        if (out[i].rule->level < min)
            continue;
        a->rule = out[i].rule;
        a->corr = &out[i];
        /* a window closed for another group: its fields are not this
         * event's (docs/CORRELATION.md, with_event) */
        a->ev = out[i].with_event ? ev : NULL;
        a->suppressed = 0;
        if (!pass_flood(sc, rt, a, out[i].group, strlen(out[i].group)))
            continue;
        CTR_INC(corr_alerts);
        send_alert(n, t, a);
    }
    a->ev = ev;
    a->corr = NULL;
}

/* The alerts of an event with hits: detection alerts (or one summary),
 * then correlation alerts.  Out of line: a clean request never runs it,
 * so its code stays off the request path's cache lines. */
static void __attribute__((noinline))
iw_alert_hits(const iw_srv_conf_t *sc, const iw_dir_conf_t *dc, iw_tls_t *t,
              const iw_rt_t *rt, const iw_hit_t *hits, int nhits)
{
    iw_event_t *ev = &t->ev;
    iw_notify_t *n = G->notifies ? G->notifies[sc->nt] : NULL;
    iw_corr_alert_t out[IW_MAX_CORR_OUT];
    iw_alert_t a;
    int nsel, nalert, nc = 0, feeds = 0, best;
    iw_level_t min = sc->min_level == IW_UNSET ? IW_LEVEL_NONE
                                               : (iw_level_t)sc->min_level;

    __atomic_fetch_add(&G->ctr.hits, (apr_uint64_t)nhits, __ATOMIC_RELAXED);
    iw_metrics_add(t->mslot, IW_M_HITS, (uint64_t)nhits);
    t->midx = rt->midx;
    t->nt = sc->nt;
    nsel = select_hits(dc, t, hits, nhits, &feeds);
    /* correlation sees every kept hit, also of generate:false rules */
    if (feeds && rt->corr && rt->mem)       /* partition locks: in the block */
        nc = iw_corr_update(rt->corr, rt->mem, ev, t->sel,
                            nsel, ev->time, out, IW_MAX_CORR_OUT);
    nalert = alerting_hits(t, nsel, min, &best);

    memset(&a, 0, sizeof(a));
    a.ev = ev;
    a.ruleset = "sigma";
    a.host_name = G->hostname;
    a.now = apr_time_now();
    if (nalert)
        send_detections(sc, rt, dc, n, t, &a, nalert, best);
    if (nc)
        send_correlations(sc, rt, n, t, &a, out, nc, min);
    if (sc->ban && G->ban && (nalert || nc))
        ban_on_alerts(sc, t, nalert, out, nc, min);
}

/* Once per rule, client and minute for the whole server: the thread's own
 * table (iw_scratch_eval_error_due) answers most repeats without the shared
 * block; this asks the shared flood-control table, whatever IocWatchSuppress
 * says, under a group of its own ("eval-error c-ip=..."), so threads and
 * children do not each send one. */
static int eval_error_due_server(const iw_rt_t *rt, const iw_rule_t *rule,
                                 iw_event_t *ev, apr_time_t now)
{
    iw_str_t cip = iw_event_get(ev, IW_F_C_IP);
    char grp[128];
    int64_t held = 0;
    size_t glen;

    if (!rt->mem)
        return 1;
    glen = (size_t)apr_snprintf(grp, sizeof(grp), "eval-error c-ip=%.*s",
                                cip.p ? (int)(cip.len > 100 ? 100 : cip.len) : 0,
                                cip.p ? cip.p : "");
    return iw_corr_suppress(rt->corr, rt->mem, rule, grp, glen, now,
                            apr_time_from_sec(60), &held);
}

/* Rules that could not be evaluated on this event (a regex past a PCRE2
 * limit, docs/MODULE.md "Regex limits"): counted per rule, and an alert
 * saying so with the request, once per rule, client and minute
 * (eval_error_due_server), so padding a value raises an alert instead of
 * hiding one.  Cold: only such events get here. */
static void __attribute__((noinline, cold))
iw_alert_errors(const iw_srv_conf_t *sc, const iw_dir_conf_t *dc, iw_tls_t *t,
                iw_scratch_t *scr)
{
    const iw_rt_t *rt = G->rts[sc->rt];
    iw_notify_t *n = G->notifies ? G->notifies[sc->nt] : NULL;
    const iw_eval_error_t *errs;
    iw_alert_t a;
    int i, ne = iw_engine_eval_errors(scr, &errs);
    iw_level_t min = sc->min_level == IW_UNSET ? IW_LEVEL_NONE
                                               : (iw_level_t)sc->min_level;

    memset(&a, 0, sizeof(a));
    a.ev = &t->ev;
    a.ruleset = "sigma";
    a.host_name = G->hostname;
    a.now = apr_time_now();
    t->midx = rt->midx;
    t->nt = sc->nt;
    for (i = 0; i < ne; i++) {
        const iw_rule_t *rule = errs[i].rule;
        if (excluded(dc, rule))
            continue;
        CTR_INC(eval_errors);
        if (rule->index >= 0 && rule->index < rt->nrs)
            __atomic_fetch_add(&rt->eval_errs[rule->index], 1, __ATOMIC_RELAXED);
        if (rt->midx)
            iw_metrics_rule_add(G->metrics, rt->midx[rule->index], IW_MR_EVAL_ERRORS);
        if (rule->level < min || !iw_scratch_eval_error_due(scr, &errs[i], &t->ev)
            || !eval_error_due_server(rt, rule, &t->ev, a.now))
            continue;
        a.rule = rule;
        a.eval_error = &errs[i];
        send_alert(n, t, &a);
    }
}

/* No scratch for this thread (out of memory, or Vectorscan could not clone
 * its scratch): its requests go uninspected, which must not be silent.
 * Said once per process; the thread tries again on its next request. */
static void __attribute__((noinline, cold)) no_scratch(void)
{
    static int said;
    if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
        return;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, NULL, IWLOGNO(0023) IW_TAG "no evaluation "
                 "scratch for a thread (out of memory?): its requests are not "
                 "inspected until one can be made");
}

/* Evaluate t->ev (an error-log entry) or the request d with the server's
 * engine (a repeat its cache knows to be clean is answered without
 * building t->ev) and queue the alerts of any hits. */
IW_HOT
static void iw_process(const iw_srv_conf_t *sc, const iw_dir_conf_t *dc,
                       iw_tls_t *t, iw_request_desc_t *d)
{
    iw_scratch_t *scr = iw_tls_scratch(t, sc->rt);
    const iw_engine_t *e;
    const iw_hit_t *hits;
    int nhits;

    if (!scr) {
        no_scratch();
        return;
    }
    /* the scratch's engine: a clean request reads no iw_rt_t (two cold
     * lines: G->rts and the runtime) */
    e = iw_scratch_engine(scr);
    nhits = d ? iw_engine_eval_request(e, scr, &t->ev, d, &hits)
              : iw_engine_eval(e, scr, &t->ev, &hits);
    if (nhits > 0)
        iw_alert_hits(sc, dc, t, G->rts[sc->rt], hits, nhits);
    if (__builtin_expect(iw_engine_eval_errors(scr, NULL) > 0, 0))
        iw_alert_errors(sc, dc, t, scr);
}

/* Monitoring on for this server and scope?  (Rules configured, not Off.) */
static inline __attribute__((always_inline))
int active(const iw_srv_conf_t *sc, const iw_dir_conf_t *dc)
{
    if (!G || !G->ready || sc->rt < 0 || sc->nt < 0 || sc->rt >= G->nrts)
        return 0;
    return !(dc && dc->enabled == 0);
}

static iw_str_t S(const char *s)
{
    iw_str_t r = { s, s ? strlen(s) : 0 };
    return r;
}

static iw_str_t SN(const char *s, size_t n)
{
    iw_str_t r = { s, n };
    return r;
}

static apr_uint64_t load8(const char *p)
{
    apr_uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Method, raw target and protocol exactly as on the request line (one
 * pass for its length; the method is short, and " HTTP/1.1" or " HTTP/1.0"
 * at the end is the last space without a search: this runs on every
 * request). */
IW_HOT
static void split_request_line(const request_rec *orig, const request_rec *r,
                               iw_request_desc_t *d)
{
    const char *line = orig->the_request, *end, *sp1, *sp2;
    size_t n = line ? strlen(line) : 0;
    apr_uint64_t w;

    end = line + n;
    for (sp1 = line; sp1 < end && *sp1 != ' '; sp1++)
        ;
    if (sp1 == end) {
        d->method = S(r->method);
        d->target = S(orig->unparsed_uri ? orig->unparsed_uri : r->unparsed_uri);
        d->version = S(r->protocol);
        return;
    }
    d->method = SN(line, (size_t)(sp1 - line));
    if (end - sp1 > 9 && end[-9] == ' ' && (w = load8(end - 8), w == load8("HTTP/1.1")
                                             || w == load8("HTTP/1.0")))
        sp2 = end - 9;
    else
        sp2 = memrchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (sp2 && end - sp2 > 5 && !memcmp(sp2 + 1, "HTTP/", 5)) {
        d->target = SN(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        d->version = SN(sp2 + 1, (size_t)(end - sp2 - 1));
    }
    else {
        d->target = SN(sp1 + 1, (size_t)(end - sp1 - 1));   /* HTTP/0.9 */
        d->version = S("HTTP/0.9");
    }
}

static const char * __attribute__((noinline)) unique_id(const request_rec *orig,
                                                        const request_rec *r)
{
    const char *id = NULL;
    /* may be called (error_log) on a request still being read */
    if (orig->subprocess_env)
        id = apr_table_get(orig->subprocess_env, "UNIQUE_ID");
    if (!id && r->subprocess_env)
        id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    return id ? id : orig->log_id;
}

/* mod_unique_id's UNIQUE_ID, else httpd's log id (without mod_unique_id
 * no table scans: every request asks) */
static inline const char *request_id(const request_rec *orig, const request_rec *r)
{
    return G->unique_id ? unique_id(orig, r) : orig->log_id;
}

/* Room for n headers in the thread's arrays (they only grow: as many as
 * httpd accepted, LimitRequestFields). */
static int __attribute__((noinline)) grow_headers(iw_tls_t *t, int n)
{
    iw_str_t *hn = realloc(t->hn, (size_t)n * sizeof(*hn)), *hv;
    if (hn)
        t->hn = hn;
    if (!hn || !(hv = realloc(t->hv, (size_t)n * sizeof(*hv))))
        return 0;
    t->hv = hv;
    t->hcap = n;
    return 1;
}

/* Per request (request_config): the headers as the client sent them (the
 * initial request) and the body its handler read (the request that ran
 * the handler). */
typedef struct iw_req_conf {
    const iw_str_t *hn, *hv;            /* the headers as sent (sent: taken) */
    int nh, sent;
    apr_size_t hbytes;                  /* their bytes as iw_request_bytes counts them */
    char *body;
    apr_size_t blen, bcap, blimit, bover;
    int body_on;                        /* the body filter is on this request */
    int in_handler;                     /* the handlers run (body_handler) */
} iw_req_conf_t;

static iw_req_conf_t *req_conf(request_rec *r)
{
    iw_req_conf_t *rc = ap_get_module_config(r->request_config, &iocwatch_module);
    if (!rc) {
        rc = apr_pcalloc(r->pool, sizeof(*rc));
        ap_set_module_config(r->request_config, &iocwatch_module, rc);
    }
    return rc;
}

/* A header table's entries as strings with their lengths: names into hn,
 * values into hv, at most cap of them (*n taken; the bytes of the rest
 * added to *dropped, iw-truncated).  Returns the bytes of those taken as
 * iw_request_bytes counts them.  headers_in as it is now (copy_headers);
 * iw_post_read_request reads the headers as sent the same way, with room
 * for all (inline: every request runs it). */
static inline __attribute__((always_inline))
apr_size_t header_strs(const apr_array_header_t *ha, iw_str_t *hn, iw_str_t *hv, int cap,
                       int *n, apr_size_t *dropped)
{
    const apr_table_entry_t *he = (const apr_table_entry_t *)ha->elts;
    apr_size_t bytes = 0;
    int i, k = 0;

    for (i = 0; i < ha->nelts; i++) {
        if (!he[i].key)
            continue;
        if (k == cap) {
            *dropped += strlen(he[i].key) + 3 + (he[i].val ? strlen(he[i].val) : 0);
            continue;
        }
        hn[k] = S(he[i].key);
        hv[k] = S(he[i].val);
        bytes += hn[k].len + hv[k].len + 3;
        k++;
    }
    *n = k;
    return bytes;
}

/* The headers as the client sent them, before any other module (and any
 * .htaccess: mod_headers' RequestHeader runs in fixups) could rewrite
 * them: headers_in's names and values as strings with their lengths (the
 * entries' pointers; unset/set leave the old strings in the request
 * pool), taken first thing after httpd read the request, in one
 * allocation with the request's config.  Initial requests only: an
 * internal redirect is inspected through the first request of its
 * chain. */
IW_HOT
static int iw_post_read_request(request_rec *r)
{
    const apr_array_header_t *ha;
    iw_req_conf_t *rc;
    iw_str_t *hn;
    apr_size_t dropped = 0;

    if (r->prev || r->main || !G || !G->ready || srv_conf(r->server)->rt < 0)
        return DECLINED;
    ha = apr_table_elts(r->headers_in);
    rc = apr_palloc(r->pool, sizeof(*rc) + 2 * (apr_size_t)ha->nelts * sizeof(iw_str_t));
    memset(rc, 0, sizeof(*rc));
    hn = (iw_str_t *)(void *)(rc + 1);
    rc->hn = hn;
    rc->hv = hn + ha->nelts;
    /* room for every entry: none dropped */
    rc->hbytes = header_strs(ha, hn, hn + ha->nelts, ha->nelts, &rc->nh, &dropped);
    rc->sent = 1;
    ap_set_module_config(r->request_config, &iocwatch_module, rc);
    return DECLINED;
}

/* The first header of that name as sent (any case), or NULL.  Not
 * inlined: iw_insert_filter returns at once for most requests. */
static const char * __attribute__((noinline)) sent_header(const iw_req_conf_t *rc, const char *name)
{
    int i;
    for (i = 0; i < rc->nh; i++)
        if (!strcasecmp(rc->hn[i].p, name))
            return rc->hv[i].p;
    return NULL;
}

/* ------------------------------------------------------------ form bodies */

/* A copy of what the handler itself reads of a form or JSON body: an
 * input filter on the request that passes every brigade through as it is
 * (same mode, same blocking) and copies the data buckets it already holds,
 * up to IocWatchBodyLimit; the rest is counted (iw-truncated).  It never
 * reads on its own, so a body the handler does not read is never read,
 * and it never waits.  Only reads while the handler runs are copied (see
 * body_handler): httpd discarding a body the handler left unread, after
 * it returned, is passed through without a copy. */
static ap_filter_rec_t *iw_body_filter_handle;

static void body_keep(request_rec *r, iw_req_conf_t *rc, const char *data,
                      apr_size_t len)
{
    apr_size_t n;
    if (rc->blen + len > rc->bcap && rc->bcap < rc->blimit) {
        apr_size_t cap = rc->bcap ? 2 * rc->bcap : 8192;
        char *nb;
        if (cap < rc->blen + len)
            cap = rc->blen + len;
        if (cap > rc->blimit)
            cap = rc->blimit;
        nb = apr_palloc(r->pool, cap);
        if (rc->blen)
            memcpy(nb, rc->body, rc->blen);
        rc->body = nb;
        rc->bcap = cap;
    }
    n = rc->bcap - rc->blen < len ? rc->bcap - rc->blen : len;
    if (n)
        memcpy(rc->body + rc->blen, data, n);
    rc->blen += n;
    rc->bover += len - n;
}

static apr_status_t iw_body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                   ap_input_mode_t mode, apr_read_type_e block,
                                   apr_off_t readbytes)
{
    iw_req_conf_t *rc = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    apr_bucket *e;
    if (rv != APR_SUCCESS || !rc->in_handler
        || (mode != AP_MODE_READBYTES && mode != AP_MODE_GETLINE))
        return rv;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t len;
        if (APR_BUCKET_IS_METADATA(e))
            continue;
        if (apr_bucket_read(e, &data, &len, APR_NONBLOCK_READ) != APR_SUCCESS) {
            if (e->length != (apr_size_t)-1)
                rc->bover += e->length;     /* not in memory: not waited for */
            continue;
        }
        body_keep(f->r, rc, data, len);
    }
    return rv;
}

/* The handler's extent, for the body filter (iw_handler, first in the
 * handler chain, calls this for a request with the body filter on): run
 * the chain itself (our own entry finds in_handler set inside), so that
 * the filter knows when the handler has returned. */
static int __attribute__((noinline)) body_handler(request_rec *r, iw_req_conf_t *rc)
{
    int rv;
    rc->in_handler = 1;
    rv = ap_run_handler(r);
    rc->in_handler = 0;
    rc->body_on = 2;                    /* the handler ran */
    return rv;
}

static int form_type(const char *ct)
{
    return ct && (!strncasecmp(ct, "application/x-www-form-urlencoded", 33)
                  || !strncasecmp(ct, "application/json", 16));
}

/* Runs for the request that runs the handler (also after an internal
 * redirect): bodies of POST/PUT/PATCH forms and JSON where monitoring is
 * on.  Content-Type as the client sent it. */
static void __attribute__((noinline)) insert_body_filter(request_rec *r)
{
    const request_rec *orig = r;
    const iw_dir_conf_t *dc;
    const iw_req_conf_t *oc;
    iw_req_conf_t *rc;
    int limit;
    dc = dir_conf(r->per_dir_config);
    if (!active(srv_conf(r->server), dc))
        return;
    limit = dc && dc->body_limit != IW_UNSET ? dc->body_limit : IW_DEF_BODY;
    while (orig->prev)
        orig = orig->prev;
    oc = ap_get_module_config(orig->request_config, &iocwatch_module);
    if (limit <= 0 || !form_type(oc && oc->sent ? sent_header(oc, "Content-Type")
                                 : apr_table_get(orig->headers_in, "Content-Type")))
        return;
    rc = req_conf(r);
    rc->blimit = (apr_size_t)limit;
    rc->body_on = 1;
    ap_add_input_filter_handle(iw_body_filter_handle, rc, r, r->connection);
}

/* Every request asks; only those that may carry a form go further (no
 * frame for the others). */
IW_HOT
static void iw_insert_filter(request_rec *r)
{
    if (r->main || (r->method_number != M_POST && r->method_number != M_PUT
                    && r->method_number != M_PATCH))
        return;
    insert_body_filter(r);
}

/* Request headers as sent (see iw_post_read_request), every one
 * httpd accepted; without them (not taken: the module was not ready yet)
 * headers_in as it is now.  Headers that find no slot (out of memory) are
 * counted into d->dropped (iw-truncated), never silently lost.  Returns
 * their bytes as iw_request_bytes counts them. */
IW_HOT
static apr_size_t copy_headers(const request_rec *orig, iw_tls_t *t,
                               iw_request_desc_t *d)
{
    const iw_req_conf_t *rc = ap_get_module_config(orig->request_config,
                                                   &iocwatch_module);
    const apr_array_header_t *ha;
    if (rc && rc->sent) {
        d->hdr_names = rc->hn;
        d->hdr_values = rc->hv;
        d->nhdrs = rc->nh;
        return rc->hbytes;
    }
    ha = apr_table_elts(orig->headers_in);
    if (ha->nelts > t->hcap)
        grow_headers(t, ha->nelts);
    d->hdr_names = t->hn;
    d->hdr_values = t->hv;
    return header_strs(ha, t->hn, t->hv, t->hcap, &d->nhdrs, &d->dropped);
}

/* The body the handler read (IocWatchBodyLimit), from the request that
 * ran the handler; bytes past the limit go into iw-truncated. */
static void describe_body(const request_rec *orig, const request_rec *r,
                          iw_request_desc_t *d)
{
    const iw_req_conf_t *rc = ap_get_module_config(r->request_config,
                                                   &iocwatch_module);
    if (!rc || !rc->body_on)
        rc = ap_get_module_config(orig->request_config, &iocwatch_module);
    if (!rc || !rc->body_on)
        return;
    if (rc->blen)
        d->body = SN(rc->body, rc->blen);
    d->dropped += rc->bover;
}

/* The request line and headers of the first request of the internal
 * redirect chain (what the client sent), the outcome of the final one.
 * With copy_headers it sets every member but dropped and body (no memset
 * of the whole description per request): a new member must be set here. */
#if defined(__x86_64__) && defined(__LP64__)
_Static_assert(sizeof(iw_request_desc_t) == 216, "set a new member in describe_request");
#endif
IW_HOT
static void describe_request(const iw_srv_conf_t *sc, const request_rec *orig,
                             const request_rec *r, iw_request_desc_t *d)
{
    const conn_rec *c = r->connection;
    const char *host = r->server->server_hostname;

    split_request_line(orig, r, d);
    d->status = r->status;
    d->sc_bytes = r->bytes_sent;
    d->cs_bytes = -1;                   /* not known without mod_logio */
    d->client_ip = S(r->useragent_ip);
    d->username = S(r->user ? r->user : orig->user);
    d->time = orig->request_time;
    /* unknown (as without a clock) when no rule reads it: no clock read */
    d->time_taken_ms = sc->time_taken ? (apr_int64_t)apr_time_as_msec(apr_time_now()
                                                     - orig->request_time) : -1;
    d->server_ip = S(c->local_ip);
    d->server_port = c->local_addr ? c->local_addr->port : 0;
    /* the length known since post_config (the same string: the pointer) */
    d->sitename = host == sc->host ? SN(host, sc->host_len) : S(host);
    d->request_id = S(request_id(orig, r));
}

IW_HOT
static int iw_log_transaction(request_rec *r0)
{
    request_rec *orig = r0, *r = r0;
    const iw_srv_conf_t *sc;
    const iw_dir_conf_t *dc;
    iw_request_desc_t d;
    iw_tls_t *t;
    apr_size_t bytes;

    while (orig->prev)
        orig = orig->prev;
    while (r->next)
        r = r->next;
    sc = srv_conf(orig->server);
    /* scope (On/Off, exclusions) follows the URL the client asked for */
    dc = dir_conf(orig->per_dir_config);
    if (!active(sc, dc) || !(t = iw_tls()) || t->in_hook
        || ban_refused(orig))       /* counted, not evaluated again */
        return DECLINED;

    /* the thread's buffers are in use: an error-log entry written meanwhile
     * (by anything this calls) is skipped, not evaluated over them */
    t->in_hook = 1;
    /* every other member is set by describe_request and copy_headers */
    d.dropped = 0;
    d.body = SN(NULL, 0);
    describe_request(sc, orig, r, &d);
    bytes = copy_headers(orig, t, &d) + d.method.len + d.target.len
            + d.version.len;
    describe_body(orig, r, &d);
    /* per thread: a shared counter's cache line would bounce between
     * cores on every request; the status page sums the threads */
    __atomic_store_n(&t->events, t->events + 1, __ATOMIC_RELAXED);
    iw_metrics_add_own(t->mslot, IW_M_EVENTS, 1);
    iw_process(sc, dc, t, &d);
    if (!(t->events & 31))          /* cache counters: every 32 requests */
        metrics_publish_caches(t);
    if (d.dropped || bytes > iw_inspect_limit)    /* iw-truncated is set */
        CTR_INC(inspect_truncated);
    t->in_hook = 0;
    return DECLINED;
}

/* "AH01630: ..." -> 1630; 0 when the message has no AH code. */
static int parse_ah(const char *m)
{
    int i, v = 0;
    if (m[0] != 'A' || m[1] != 'H')
        return 0;
    for (i = 2; i < 7; i++) {
        if (m[i] < '0' || m[i] > '9')
            return 0;
        v = v * 10 + (m[i] - '0');
    }
    return m[7] == ':' ? v : 0;
}

static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7",
    "trace8"
};

/* "iocwatch: ..." or "IWnnnn: iocwatch: ...": a line of ours. */
static int own_message(const char *msg)
{
    if (msg[0] == 'I' && msg[1] == 'W' && apr_isdigit(msg[2]) && apr_isdigit(msg[3])
        && apr_isdigit(msg[4]) && apr_isdigit(msg[5]) && msg[6] == ':' && msg[7] == ' ')
        msg += 8;
    return !strncmp(msg, IW_TAG, sizeof(IW_TAG) - 2);
}

/* Never logs (we are inside the logger) and never recurses. */
static void iw_error_log(const ap_errorlog_info *info, const char *msg)
{
    const server_rec *s = info->s ? info->s : ap_server_conf;
    const iw_srv_conf_t *sc;
    const iw_dir_conf_t *dc;
    iw_error_desc_t d;
    iw_tls_t *t;
    int level = info->level & APLOG_LEVELMASK;

    if (!G || !G->ready || !s || !msg || own_message(msg))
        return;
    sc = srv_conf(s);
    if (sc->errorlog == IW_ELOG_OFF
        || (sc->errorlog != IW_UNSET && level > sc->errorlog))
        return;
    dc = dir_conf(info->r ? info->r->per_dir_config : s->lookup_defaults);
    if (!active(sc, dc))
        return;
    if (!(t = iw_tls()) || t->in_hook)
        return;
    t->in_hook = 1;

    memset(&d, 0, sizeof(d));
    d.message = S(msg);
    d.level = S(level_names[level & 15]);
    d.module = S(info->module_index >= 0
                 ? ap_find_module_short_name(info->module_index) : NULL);
    if (info->r)
        d.client_ip = S(info->r->useragent_ip);
    else if (info->c)
        d.client_ip = S(info->c->client_ip);
    if (info->r)
        d.request_id = S(request_id(info->r, info->r));
    d.ah_code = parse_ah(msg);
    d.pid = (long)getpid();
    d.time = apr_time_now();

    iw_event_from_error(&t->ev, &d);
    CTR_INC(error_events);
    iw_process(sc, dc, t, NULL);
    t->in_hook = 0;
}

/* ---------------------------------------------------- server-wide metrics */

/* The counter block (src/iw_metrics.c) lives in shared memory made once
 * by the parent and kept across restarts (retained data, like the
 * correlation tables): counts go on over graceful and plain restarts, and
 * start from zero when httpd is started anew (iocwatch_metrics_start_time_
 * seconds tells).  Each thread counts into a slot of its own. */
#define IW_METRICS_KEY "mod_iocwatch-metrics"

typedef struct iw_metrics_retained {
    apr_shm_t *shm;
    void *mem;
} iw_metrics_retained_t;

static void metrics_register_rules(iw_metrics_t *m, iw_rt_t *rt)
{
    const apr_array_header_t *rules = rt->rs->rules;
    int i;
    rt->midx = apr_pcalloc(G->pool, sizeof(int) * (rules->nelts + 1));
    for (i = 0; i < rules->nelts; i++) {
        const iw_rule_t *r = APR_ARRAY_IDX(rules, i, const iw_rule_t *);
        if (r->index >= 0 && r->index < rules->nelts)
            rt->midx[r->index] = iw_metrics_rule(m, r->id ? r->id : r->name,
                                                 iw_level_name(r->level));
    }
}

/* Parent, post_config: attach (or make) the block, register this
 * generation's rules and targets.  Without it the module works as before
 * and the totals read 0. */
static void metrics_setup(server_rec *s)
{
    iw_metrics_retained_t *ret = ap_retained_data_get(IW_METRICS_KEY);
    size_t bytes = iw_metrics_size();
    apr_status_t rv;
    int i;

    if (!ret)
        ret = ap_retained_data_create(IW_METRICS_KEY, sizeof(*ret));
    G->metrics = ret->mem ? iw_metrics_attach(ret->mem, bytes) : NULL;
    if (!G->metrics) {              /* first start, or a layout of another build */
        apr_shm_t *shm;
        rv = shm_make(&shm, bytes, IW_SHM_METRICS, s, s->process->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, IWLOGNO(0019) IW_TAG "cannot create "
                         "%" APR_SIZE_T_FMT " bytes of shared memory for the "
                         "counters; server-wide totals stay 0", bytes);
            return;
        }
        if (ret->shm)               /* the parent's mapping of the older block only: */
            apr_shm_destroy(ret->shm); /* its children keep theirs until they exit */
        ret->shm = shm;
        ret->mem = apr_shm_baseaddr_get(shm);
        G->metrics = iw_metrics_init(ret->mem, (int64_t)apr_time_sec(apr_time_now()));
    }
    for (i = 0; i < G->nrts; i++)
        if (G->rts[i]->engine)
            metrics_register_rules(G->metrics, G->rts[i]);
    for (i = 0; i < G->ntcfg->nelts; i++) {
        iw_notify_cfg_t *c = &APR_ARRAY_IDX(G->ntcfg, i, iw_notify_cfg_t);
        c->shared = iw_metrics_target(G->metrics, c->target);
    }
    G->rules_time = (int64_t)apr_time_sec(apr_time_now());
}

/* Where a thread counts when there is no block (shared memory failed):
 * never read, so the request path needs no test. */
static iw_mslot_t iw_mslot_none;

static void metrics_thread_start(iw_tls_t *t)
{
    t->mslot = G ? iw_metrics_claim(G->metrics) : NULL;
    iw_mslot_tl = t->mslot;
    if (!t->mslot)
        t->mslot = &iw_mslot_none;
}

/* Scan and event cache counters of this thread (all its engines) into its
 * slot: only the deltas since the last time, so the slot's next owner
 * continues from its sums. */
static void __attribute__((noinline, cold)) metrics_publish_caches(iw_tls_t *t)
{
    uint64_t c[4] = {0, 0, 0, 0};
    int i, k;
    if (!t->mslot)
        return;
    for (i = 0; i < IW_MAX_RT; i++) {
        uint64_t h, m, eh, em;
        if (!t->scratch[i])
            continue;
        iw_scratch_cache_counters(t->scratch[i], &h, &m);
        iw_scratch_event_cache_counters(t->scratch[i], &eh, &em);
        c[0] += h; c[1] += m; c[2] += eh; c[3] += em;
    }
    for (k = 0; k < 4; k++) {
        if (c[k] > t->mcache[k])
            iw_metrics_add(t->mslot, IW_M_SCAN_CACHE_HITS + k, c[k] - t->mcache[k]);
        t->mcache[k] = c[k];
    }
}

static void metrics_thread_end(iw_tls_t *t)
{
    metrics_publish_caches(t);
    iw_metrics_release(t->mslot);
    t->mslot = NULL;
    iw_mslot_tl = NULL;
}

/* The main thread's scratch (and slot) came from the parent by fork: a
 * slot of its own, so that the parent and every child do not all write
 * one slot; its counts are published when the child exits (a key
 * destructor does not run for the main thread). */
static apr_status_t metrics_child_exit(void *v)
{
    iw_tls_t *t = iw_key_ok ? pthread_getspecific(iw_key) : NULL;
    if (t && t->mslot)
        metrics_thread_end(t);
    return APR_SUCCESS;
}

static void metrics_child_init(apr_pool_t *p)
{
    iw_tls_t *t = iw_key_ok ? pthread_getspecific(iw_key) : NULL;
    if (t)
        metrics_thread_start(t);    /* the parent keeps its own */
    apr_pool_cleanup_register(p, NULL, metrics_child_exit, apr_pool_cleanup_null);
}

/* What the block does not hold: this generation's rules and tables. */
static void metrics_extra(iw_metrics_extra_t *x)
{
    int i;
    memset(x, 0, sizeof(*x));
    x->config_generation = (int64_t)ap_state_query(AP_SQ_CONFIG_GEN);
    x->engines = G->nrts;
    x->rules_loaded_time = G->rules_time;
    for (i = 0; i < G->nrts; i++) {
        iw_corr_stats_t cs;
        x->rules_loaded += G->rts[i]->nrules;
        x->rules_stale += G->rts[i]->stale != NULL;
        if (!G->rts[i]->mem)
            continue;
        iw_corr_get_stats(G->rts[i]->mem, &cs);
        x->have_corr = 1;
        x->corr_slots += cs.slots;
        x->corr_used += cs.used;
        x->corr_evictions += cs.evictions;
        x->corr_recycled += cs.recycled;
        x->corr_fired += cs.alerts;
        x->sup_slots += cs.sup_slots;
        x->sup_used += cs.sup_used;
    }
}

static void metrics_emit(void *ctx, const char *s, size_t n)
{
    ap_rwrite(s, (int)n, ctx);
}

/* "?format=prometheus" or "?prometheus" (any position among &-separated
 * arguments) selects the Prometheus text exposition. */
static int wants_prometheus(const char *args)
{
    const char *p = args;
    while (p && *p) {
        size_t n = strcspn(p, "&");
        if ((n == 10 && !strncmp(p, "prometheus", 10))
            || (n == 17 && !strncmp(p, "format=prometheus", 17)))
            return 1;
        p += n + (p[n] == '&');
    }
    return 0;
}

/* The status page's server-wide section (total_* lines). */
static void metrics_status_text(request_rec *r, iw_tls_t *t)
{
    iw_metrics_extra_t x;
    if (t)
        metrics_publish_caches(t);
    metrics_extra(&x);
    iw_metrics_render_text(G->metrics, &x, metrics_emit, r);
}

static int metrics_prometheus(request_rec *r)
{
    iw_metrics_extra_t x;
    iw_tls_t *t = iw_tls();
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    if (r->header_only)
        return OK;
    if (t)
        metrics_publish_caches(t);
    metrics_extra(&x);
    iw_metrics_render_prom(G->metrics, &x, metrics_emit, r);
    ban_prometheus(r);
    return OK;
}

/* ------------------------------------------------------------ status page */

/* Scan-result and event cache counters of every thread of this process
 * (IocWatchScanCache): how often repeated values spared a scan. */
static void status_caches(request_rec *r, int rt)
{
    apr_uint64_t c[4] = {0, 0, 0, 0};
    const iw_tls_t *t;
    pthread_mutex_lock(&iw_tls_mu);
    for (t = iw_tls_head; t; t = t->next) {
        uint64_t h, m, eh, em;
        if (!t->scratch[rt])
            continue;
        iw_scratch_cache_counters(t->scratch[rt], &h, &m);
        iw_scratch_event_cache_counters(t->scratch[rt], &eh, &em);
        c[0] += h; c[1] += m; c[2] += eh; c[3] += em;
    }
    pthread_mutex_unlock(&iw_tls_mu);
    ap_rprintf(r, "scan_cache_hits: %" APR_UINT64_T_FMT "\nscan_cache_misses: %"
               APR_UINT64_T_FMT "\nevent_cache_hits: %" APR_UINT64_T_FMT
               "\nevent_cache_misses: %" APR_UINT64_T_FMT "\n", c[0], c[1], c[2], c[3]);
}

/* Evaluation errors of this process by rule (docs/MODULE.md "Regex
 * limits"): "eval_errors_rule_ID: N", one line per rule with any. */
static void status_eval_errors(request_rec *r, int rt)
{
    const iw_rt_t *x = G->rts[rt];
    const iw_ruleset_t *rs = iw_engine_ruleset(x->engine);
    int i;
    for (i = 0; i < x->nrs && i < rs->rules->nelts; i++) {
        apr_uint64_t v = __atomic_load_n(&x->eval_errs[i], __ATOMIC_RELAXED);
        const iw_rule_t *rule = APR_ARRAY_IDX(rs->rules, i, const iw_rule_t *);
        if (v)
            ap_rprintf(r, "eval_errors_rule_%s: %" APR_UINT64_T_FMT "\n",
                       rule->id ? rule->id : rule->name, v);
    }
}

/* Access events: the exited threads' (ctr.events) plus the live ones'. */
static apr_uint64_t status_events(void)
{
    apr_uint64_t n;
    const iw_tls_t *t;
    pthread_mutex_lock(&iw_tls_mu);
    n = CTR_GET(events);
    for (t = iw_tls_head; t; t = t->next)
        n += __atomic_load_n(&t->events, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&iw_tls_mu);
    return n;
}

/* This server's rule counts, defined as in `iocwatch check`: rules = every
 * loaded document, by kind below it. */
static void status_rules(request_rec *r, int rt)
{
    iw_rule_counts_t c;
    iw_engine_rule_counts(G->rts[rt]->engine, &c);
    ap_rprintf(r, "enabled: 1\nengines: %d\nrules: %d\nrules_detection: %d\n"
               "rules_correlation: %d\nrules_filters: %d\nrules_not_compiled: %d\n",
               G->nrts, c.total, c.detection, c.correlation, c.filters,
               c.not_compiled);
}

/* The status page (SetHandler iocwatch-status). */
static int __attribute__((noinline, cold)) status_page(request_rec *r)
{
    const iw_srv_conf_t *sc;
    int gen = 0;
    r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
    if (r->method_number == M_POST)
        return ban_control(r);      /* lifting bans (docs/MODULE.md) */
    if (r->method_number != M_GET)
        return DECLINED;
    sc = srv_conf(r->server);
    /* server-wide: also where this vhost has no rules of its own */
    if (r->args && G && G->ready && wants_prometheus(r->args))
        return metrics_prometheus(r);
    ap_set_content_type(r, "text/plain; charset=utf-8");
    if (r->header_only)
        return OK;
    ap_mpm_query(AP_MPMQ_GENERATION, &gen);
    ap_rprintf(r, "pid: %ld\nmpm_generation: %d\nconfig_generation: %ld\n",
               (long)getpid(), gen, (long)ap_state_query(AP_SQ_CONFIG_GEN));
    if (!G || !G->ready || sc->rt < 0) {
        ap_rputs("enabled: 0\n", r);
        return OK;
    }
    status_rules(r, sc->rt);
    /* 1: a reload found the rule files broken, the previous rules are in
     * force (docs/MODULE.md "Graceful restart") */
    ap_rprintf(r, "rules_stale: %d\n", G->rts[sc->rt]->stale != NULL);
    if (G->rts[sc->rt]->stale)
        ap_rprintf(r, "rules_stale_error: %s\n", G->rts[sc->rt]->stale);
#define P(f) ap_rprintf(r, #f ": %" APR_UINT64_T_FMT "\n", CTR_GET(f))
    ap_rprintf(r, "events: %" APR_UINT64_T_FMT "\n", status_events());
    P(error_events); P(hits); P(alerts); P(excluded);
    P(below_level); P(suppressed); P(corr_alerts); P(enqueue_failed);
    P(inspect_truncated);
    P(rules_omitted);
    P(eval_errors);
#undef P
    status_eval_errors(r, sc->rt);
    status_caches(r, sc->rt);
    if (G->notifies && G->notifies[sc->nt]) {
        iw_notify_stats_t st;
        iw_notify_get_stats(G->notifies[sc->nt], &st);
        ap_rprintf(r, "queue_target: %s\nqueued: %" APR_UINT64_T_FMT "\nsent: %"
                   APR_UINT64_T_FMT "\ndropped: %" APR_UINT64_T_FMT
                   "\nsend_errors: %" APR_UINT64_T_FMT "\nreconnects: %"
                   APR_UINT64_T_FMT "\ntruncated: %" APR_UINT64_T_FMT
                   "\ndrop_reports: %" APR_UINT64_T_FMT "\n",
                   APR_ARRAY_IDX(G->ntcfg, sc->nt, iw_notify_cfg_t).target,
                   st.queued, st.sent, st.dropped, st.send_errors, st.reconnects,
                   st.truncated, st.reports);
    }
    if (G->rts[sc->rt]->mem) {
        iw_corr_stats_t cs;
        iw_corr_get_stats(G->rts[sc->rt]->mem, &cs);
        ap_rprintf(r, "corr_slots: %" APR_UINT64_T_FMT "\ncorr_used: %"
                   APR_UINT64_T_FMT "\ncorr_evictions: %" APR_UINT64_T_FMT
                   "\ncorr_updates: %" APR_UINT64_T_FMT "\ncorr_recycled: %"
                   APR_UINT64_T_FMT "\ncorr_fired: %"
                   APR_UINT64_T_FMT "\ncorr_lock_failures: %" APR_UINT64_T_FMT
                   "\nsup_slots: %" APR_UINT64_T_FMT "\nsup_used: %"
                   APR_UINT64_T_FMT "\nsup_suppressed: %" APR_UINT64_T_FMT "\n",
                   cs.slots, cs.used, cs.evictions, cs.updates, cs.recycled,
                   cs.alerts,
                   cs.lock_failures, cs.sup_slots, cs.sup_used, cs.sup_suppressed);
        /* partition locks (docs/CORRELATION.md "Locking"): recovered =
         * taken over from a dead owner, repaired = partition heads rebuilt */
        ap_rprintf(r, "corr_partitions: %" APR_UINT64_T_FMT
                   "\ncorr_lock_recovered: %" APR_UINT64_T_FMT
                   "\ncorr_lock_repaired: %" APR_UINT64_T_FMT "\n",
                   cs.partitions, cs.lock_recovered, cs.lock_repaired);
    }
    metrics_status_text(r, iw_tls());
    status_bans(r);
    return OK;
}

/* The page is the server admin's: it is served only where the SetHandler
 * in effect is one of server config (httpd.conf, <VirtualHost>,
 * <Directory>, <Location>, <Files>, <If>).  SetHandler and AddHandler are
 * allowed in .htaccess (AllowOverride FileInfo), which must not open the
 * page past the admin's access control.  core keeps each SetHandler as an
 * expression object and merging copies the pointer, so the one in effect
 * is server config's exactly when it is one of the pointers collected from
 * the config sections at post_config (an .htaccess one is made per request
 * in the request pool; AddHandler or a RewriteRule H= set none). */
static void status_collect_dir(apr_array_header_t *found, ap_conf_vector_t *v)
{
    core_dir_config *d = v ? ap_get_core_module_config(v) : NULL;
    int i;
    if (!d)
        return;
    if (d->expr_handler)
        APR_ARRAY_PUSH(found, const void *) = d->expr_handler;
    for (i = 0; d->sec_file && i < d->sec_file->nelts; i++)
        status_collect_dir(found, APR_ARRAY_IDX(d->sec_file, i, ap_conf_vector_t *));
    for (i = 0; d->sec_if && i < d->sec_if->nelts; i++)
        status_collect_dir(found, APR_ARRAY_IDX(d->sec_if, i, ap_conf_vector_t *));
}

static void status_collect(apr_pool_t *pconf, server_rec *s0)
{
    apr_array_header_t *found = apr_array_make(pconf, 8, sizeof(const void *));
    server_rec *s;
    int i;
    for (s = s0; s; s = s->next) {
        core_server_config *sc = ap_get_core_module_config(s->module_config);
        status_collect_dir(found, s->lookup_defaults);
        for (i = 0; sc->sec_dir && i < sc->sec_dir->nelts; i++)
            status_collect_dir(found, APR_ARRAY_IDX(sc->sec_dir, i, ap_conf_vector_t *));
        for (i = 0; sc->sec_url && i < sc->sec_url->nelts; i++)
            status_collect_dir(found, APR_ARRAY_IDX(sc->sec_url, i, ap_conf_vector_t *));
    }
    iw_status_exprs = (const void **)found->elts;
    iw_status_nexprs = found->nelts;
}

static int __attribute__((noinline, cold)) status_allowed(request_rec *r)
{
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    int i;
    for (i = 0; d && d->expr_handler && i < iw_status_nexprs; i++)
        if (iw_status_exprs[i] == (const void *)d->expr_handler)
            return 1;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, IWLOGNO(0020) IW_TAG "status page refused "
                  "for %s: the handler was not set by SetHandler in server "
                  "config (e.g. by an .htaccess file)", r->uri);
    return 0;
}

/* The module's one handler, first in the chain and asked of every request
 * of every server (one hook call, not two): a request with the body
 * filter on runs the chain inside body_handler (this entry comes again
 * with in_handler set), then the status page.  The page's code (and its
 * stack frame) stay out of the way. */
IW_HOT
static int iw_handler(request_rec *r)
{
    iw_req_conf_t *rc = ap_get_module_config(r->request_config, &iocwatch_module);
    const char *h;
    if (rc && rc->body_on && !rc->in_handler)
        return body_handler(r, rc);
    h = r->handler;
    if (!h || strcmp(h, "iocwatch-status"))
        return DECLINED;
    return status_allowed(r) ? status_page(r) : HTTP_FORBIDDEN;
}

/* ------------------------------------------------------------------- hooks */

static void iw_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(iw_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(iw_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(iw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(iw_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(iw_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    iw_body_filter_handle = ap_register_input_filter("IOCWATCH_BODY", iw_body_filter,
                                                     NULL, AP_FTYPE_RESOURCE);
    ap_hook_insert_filter(iw_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(iw_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(iw_log_transaction, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_error_log(iw_error_log, NULL, NULL, APR_HOOK_MIDDLE);
    ban_register_hooks();
}

module AP_MODULE_DECLARE_DATA iocwatch_module = {
    STANDARD20_MODULE_STUFF,
    iw_create_dir,
    iw_merge_dir,
    iw_create_srv,
    iw_merge_srv,
    iw_cmds,
    iw_register_hooks,
    AP_MODULE_FLAG_NONE
};
