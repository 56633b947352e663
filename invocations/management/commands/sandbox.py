"""``manage.py sandbox``: one line saying how this node isolates functions, or why it will not run
them (``make run`` prints it under its banner). Exit status 1 when functions cannot run."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand

from invocations.engine.interpreters import discover_runtimes
from invocations.engine.sandbox import describe
from invocations.node import pool_config


class Command(BaseCommand):
    help = "Check that this node can build its function sandbox, and say how (or why not)."

    def handle(self, *args: Any, **options: Any) -> None:
        config = pool_config()
        os.makedirs(config.work_dir, mode=0o700, exist_ok=True)
        line = describe(config.sandbox_config(), runtimes=discover_runtimes(config.runtimes_dir),
                        runtimes_dir=config.runtimes_dir, work_dir=config.work_dir)
        self.stdout.write(line)
        if line.startswith("FUNCTIONS WILL NOT RUN"):
            sys.exit(1)
