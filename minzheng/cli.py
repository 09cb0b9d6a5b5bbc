"""`minzheng <command>`: the management commands under a short name.

    minzheng seed --scale 0.01 --seed 1     build a synthetic district
    minzheng serve                          run the web server on 127.0.0.1:8000, and beside it the
                                            scheduler of the periodic jobs (MINZHENG_SCHEDULER=0: not)
    minzheng scheduler                      the periodic jobs alone (safety tick, nightly, monthly)
    minzheng audit-verify                   check the audit chain
    minzheng <any manage.py command>        e.g. minzheng migrate
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

ALIASES = {
    "serve": ["runserver", "--noreload"],
    "audit-verify": ["audit_verify"],
    "load-divisions": ["load_divisions"],
    "demo-accounts": ["demo_accounts"],
}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return
    command, rest = args[0], args[1:]
    expanded = ALIASES.get(command, [command.replace("-", "_")])
    if command == "serve" and not rest:
        rest = ["127.0.0.1:8000"]
    if command == "serve" and os.environ.get("MINZHENG_SCHEDULER", "1") != "0":
        _start_scheduler()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["minzheng", *expanded, *rest])


def _start_scheduler() -> None:
    """The embedded default's periodic jobs in a child process, stopped with the server."""
    child = subprocess.Popen([sys.executable, "-m", "minzheng.cli", "scheduler", "--parent", str(os.getpid())])

    def stop() -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that atexit runs on a plain kill, too


if __name__ == "__main__":
    main()
