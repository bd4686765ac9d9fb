# SPDX-License-Identifier: Apache-2.0
"""The sandbox for shell scripts (tools/demo.sh):
  python3 -m iwhttpd free-port
  python3 -m iwhttpd user              # the User/Group lines (empty unless root)
  python3 -m iwhttpd start|stop DIR CONF PIDFILE ERRLOG PORT [TIMEOUT]
start exits 1 with httpd's output and the error log's tail when it does not
come up; stop is bounded (see Server.stop)."""

import sys

import iwhttpd


def main(argv):
    if argv[:1] == ["free-port"]:
        print(iwhttpd.free_port())
        return 0
    if argv[:1] == ["user"]:
        sys.stdout.write(iwhttpd.user_directives())
        return 0
    if len(argv) in (6, 7) and argv[0] in ("start", "stop"):
        s = iwhttpd.Server(argv[1], int(argv[5]), conf=argv[2], pidfile=argv[3],
                           errlog=argv[4])
        if argv[0] == "stop":
            s.stop()
            return 0
        try:
            s.start(timeout=float(argv[6]) if len(argv) == 7 else 180)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
