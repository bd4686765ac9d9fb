/* SPDX-License-Identifier: Apache-2.0 */
/* iw_report: `iocwatch report`, the digest of alert JSON files (the
 * rsyslog alert file, `-`, several files, .gz) for a time range, as text,
 * HTML (one self-contained file: inline SVG timeline and tables, no script,
 * nothing fetched) or JSON.  See docs/INTEGRATIONS.md. */
#ifndef IW_REPORT_H
#define IW_REPORT_H

/* argv[0] is "report"; returns the process exit code (0 fine, 1 an input
 * could not be read, 2 usage). */
int iw_report_main(int argc, char **argv);

#endif
