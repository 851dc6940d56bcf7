# SPDX-License-Identifier: BSD-2-Clause
"""Quality of results: the synthesis job runner and the committed QoR baselines.

Two jobs, two modules:

:mod:`accelgen.flow.report.jobs`
    :func:`run_jobs` runs synthesis and Fmax :class:`Job` s, each in its own
    process with a time limit, and caches their results.
:mod:`accelgen.flow.report.baselines`
    ``bench/baselines/<target>.json``: :func:`load_baseline`,
    :func:`write_baseline`, and :func:`baseline_mismatch`, which holds a fresh
    synthesis to its entry within the tolerance.

The public names of both are available here. ``bench/report.py`` builds the
QoR report (``make report``) and rewrites the baselines (``make baselines``)
with them; ``python -m accelgen.flow.report`` is the worker process of one job.
"""

from accelgen.flow.report import baselines, jobs
from accelgen.flow.report.baselines import *  # noqa: F403 - the two modules' public names
from accelgen.flow.report.jobs import *  # noqa: F403

__all__ = ["baselines", "jobs", *jobs.__all__, *baselines.__all__]
