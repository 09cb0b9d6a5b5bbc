"""`minzheng <command>`: the management commands under a short name.

    minzheng seed --scale 0.01 --seed 1     build a synthetic district
    minzheng serve                          run the web server on 127.0.0.1:8000
    minzheng audit-verify                   check the audit chain
    minzheng <any manage.py command>        e.g. minzheng migrate
"""

from __future__ import annotations

import os
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
    from django.core.management import execute_from_command_line

    execute_from_command_line(["minzheng", *expanded, *rest])


if __name__ == "__main__":
    main()
