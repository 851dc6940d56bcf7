# SPDX-License-Identifier: BSD-2-Clause
"""``python -m accelgen.flow.report SPEC WORK MAX_KB``: one QoR job's worker process.

Runs :func:`accelgen.flow.report.jobs.worker_main`, which prints the job's
result as JSON on its last line (a Dask task of
:func:`accelgen.flow.report.jobs.run_jobs` starts it on a worker, in a process
group of its own, and reads that line).
"""

import sys

from accelgen.flow.report.jobs import worker_main

__all__ = []

if __name__ == "__main__":
    worker_main(*sys.argv[1:])
