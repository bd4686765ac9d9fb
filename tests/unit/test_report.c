/* SPDX-License-Identifier: Apache-2.0 */
/* iw_report: the JSON walker and time parser on every prefix of an alert
 * and on every single-byte corruption of it (run under ASan by
 * `make test-asan`: no read past a line), every line counted, none fatal;
 * timestamps with zones and broken ones. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iw_test.h"
#include "iw_report.h"

static const char ALERT[] =
    "{\"rule\":{\"id\":\"3c0e1a00-0000-4000-8000-000000000050\",\"name\":\"5+ \\u00e9v\\ud83d\\ude00"
    "\\\"q\\\" \\\\ x\"},\"@timestamp\":\"2026-12-06T11:00:05.000+01:30\","
    "\"event\":{\"kind\":\"alert\",\"severity\":73},\"log\":{\"level\":\"high\"},"
    "\"tags\":[\"attack.t1190\",\"x\"],\"source\":{\"ip\":\"10.0.0.9\"},"
    "\"url\":{\"original\":\"/n4\",\"domain\":\"www.example.org\"},"
    "\"iocwatch\":{\"correlation\":{\"type\":\"event_count\",\"group\":{\"c-ip\":\"10.0.0.9\","
    "\"s-sitename\":\"w\"},\"count\":5,\"window_s\":60}},\"n\":[1,-2.5e3,true,null,{}]}";

/* Run `iocwatch report --format json FILE`; its stdout into out. */
static int run_report(const char *file, char *out, size_t cap, const char *extra)
{
    char tmpl[] = "/tmp/iw-report-out-XXXXXX";
    int fd = mkstemp(tmpl), saved_out, saved_err, devnull, rc;
    char *argv[] = { "report", "--format", "json", (char *)file, (char *)extra, NULL };
    ssize_t n;
    if (fd < 0) return -100;
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    devnull = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    dup2(devnull, 2);
    rc = iw_report_main(extra ? 5 : 4, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out); close(saved_err); close(devnull);
    n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(tmpl);
    return rc;
}

static long json_num(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

TEST(report_every_prefix_and_corruption_counted)
{
    char tmpl[] = "/tmp/iw-report-in-XXXXXX";
    static const char subst[] = "\"\\{}[]:,u0 \x80\xff";
    int fd = mkstemp(tmpl);
    FILE *f;
    size_t len = strlen(ALERT), i, k;
    long lines = 0;
    char *out = malloc(1 << 20);
    REQUIRE(fd >= 0 && out);
    f = fdopen(fd, "w");
    fprintf(f, "%s\n", ALERT);
    lines++;
    for (i = 1; i < len; i++, lines++)         /* every prefix */
        fprintf(f, "%.*s\n", (int)i, ALERT);
    for (i = 0; i < len; i++)                  /* every byte replaced */
        for (k = 0; k < sizeof(subst) - 1; k++) {
            char line[sizeof(ALERT)];
            memcpy(line, ALERT, len + 1);
            line[i] = subst[k];
            fprintf(f, "%s\n", line);
            lines++;
        }
    fclose(f);
    CHECK_INT(run_report(tmpl, out, 1 << 20, NULL), 0);
    CHECK_INT(json_num(out, "\"lines\":"), lines);
    /* the intact line is an alert of the range; prefixes cut before the
     * end of the object are not; some corruptions still are */
    CHECK(json_num(out, "\"alerts\":") >= 1);
    CHECK(json_num(out, "\"not_alerts\":") >= (long)len - 1);
    unlink(tmpl);
    free(out);
}

TEST(report_fields_and_zones)
{
    char tmpl[] = "/tmp/iw-report-in-XXXXXX";
    int fd = mkstemp(tmpl);
    FILE *f;
    char *out = malloc(1 << 16);
    REQUIRE(fd >= 0 && out);
    f = fdopen(fd, "w");
    fprintf(f, "%s\n", ALERT);                  /* 11:00:05+01:30 = 09:30:05Z */
    fprintf(f, "{\"rule\":{\"id\":\"r2\"},\"@timestamp\":\"2026-12-06T09:30:59Z\","
               "\"log\":{\"level\":\"low\"},\"source\":{\"ip\":\"10.0.0.1\"}}\n");
    fprintf(f, "{\"rule\":{\"id\":\"r3\"},\"@timestamp\":\"2026-12-06T09:30:59+0\"}\n");
    fprintf(f, "{\"rule\":{\"id\":\"r3\"},\"@timestamp\":\"2026-12-06T09:30:59+01:9\"}\n");
    fprintf(f, "{\"rule\":{\"id\":\"r3\"},\"@timestamp\":\"2026-13-06\"}\n");
    fprintf(f, "{\"rule\":{\"id\":\"r3\"}}\n");
    fclose(f);
    CHECK_INT(run_report(tmpl, out, 1 << 16, "--from=2026-12-06T09:30Z"), 0);
    CHECK_INT(json_num(out, "\"alerts\":"), 2);
    CHECK_INT(json_num(out, "\"not_alerts\":"), 4);
    CHECK_CONTAINS(out, "\"busiest_minutes\":[{\"minute\":\"2026-12-06T09:30:00Z\",\"alerts\":2}");
    CHECK_CONTAINS(out, "\"name\":\"5+ \xc3\xa9v\xf0\x9f\x98\x80\\\"q\\\" \\\\ x\"");
    CHECK_CONTAINS(out, "\"group\":\"c-ip=10.0.0.9,s-sitename=w\"");
    CHECK_CONTAINS(out, "\"count\":5");
    CHECK_CONTAINS(out, "\"by_target\":[{\"key\":\"-\",\"alerts\":1},{\"key\":\"www.example.org\"");
    /* the range starts after both */
    CHECK_INT(run_report(tmpl, out, 1 << 16, "--from=2026-12-06T09:31Z"), 0);
    CHECK_INT(json_num(out, "\"alerts\":"), 0);
    unlink(tmpl);
    free(out);
}
