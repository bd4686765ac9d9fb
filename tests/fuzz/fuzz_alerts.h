/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_each_alert: every alert of one evaluation (one per hit, then the
 * summary of them all) handed to a target's own check, so that fuzz_eval
 * and fuzz_rules render the same set of alerts.  Header-only. */
#ifndef IW_FUZZ_ALERTS_H
#define IW_FUZZ_ALERTS_H

#include <string.h>
#include "iw_alert.h"
#include "iw_engine.h"

static void fuzz_each_alert(iw_event_t *ev, const iw_hit_t *hits, int n,
                            void (*check)(const iw_alert_t *a))
{
    iw_alert_t a;
    int i;

    if (n <= 0)
        return;
    memset(&a, 0, sizeof(a));
    a.ev = ev;
    a.ruleset = "sigma";
    a.host_name = "fuzz";
    a.now = ev->time;
    for (i = 0; i < n; i++) {
        a.rule = hits[i].rule;
        a.hit = &hits[i];
        check(&a);
    }
    a.rule = hits[0].rule;
    a.hit = &hits[0];
    a.all_hits = hits;
    a.nall_hits = n;
    check(&a);
}

#endif
