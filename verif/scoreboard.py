# SPDX-License-Identifier: BSD-2-Clause
"""In-order scoreboard: expectations from the golden model, observations from a monitor."""

from collections import deque

__all__ = ["Scoreboard"]


class Scoreboard:
    """Compares observed items with expected ones, in order.

    ``expect`` is fed by the input monitor through the golden model; ``observe``
    by the output monitor. A mismatch or an unexpected item counts an error and
    logs the first ``max_logged`` of them; :meth:`check` fails the test unless
    there were no errors and nothing is still expected.
    """

    def __init__(self, log, name="scoreboard", max_logged=10):
        self.log = log
        self.name = name
        self.max_logged = max_logged
        self.expected = deque()
        self.matched = 0
        self.errors = 0
        self.flushed = 0

    def expect(self, item):
        self.expected.append(item)

    def _error(self, message):
        self.errors += 1
        if self.errors <= self.max_logged:
            self.log.error("%s: %s", self.name, message)

    def observe(self, item):
        if not self.expected:
            self._error(f"unexpected item {item!r} (nothing expected; "
                        f"{self.matched} matched so far)")
            return
        want = self.expected.popleft()
        if item != want:
            self._error(f"item {self.matched + self.errors}: got {item!r}, expected {want!r}")
        else:
            self.matched += 1

    def flush(self):
        """Drop what is still expected (after a reset that discards in-flight work)."""
        self.flushed += len(self.expected)
        self.expected.clear()

    def check(self):
        if self.errors or self.expected:
            raise AssertionError(
                f"{self.name}: {self.errors} errors, {len(self.expected)} items never "
                f"seen, {self.matched} matched")
        self.log.info("%s: %d items matched, 0 errors", self.name, self.matched)
