"""The fault tier: parts of a real stack killed, restarted and stopped under load (issue 13).

Its tests print what they counted and measured; the lines are repeated at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.fault.summary import LINES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LINES:
        terminalreporter.section("fault tier: counts and timings")
        for line in LINES:
            terminalreporter.write_line(line)
