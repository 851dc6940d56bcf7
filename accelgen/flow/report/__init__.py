# SPDX-License-Identifier: BSD-2-Clause
"""Quality of results: the Dask job engine, the units' own figures and the committed QoR baselines.

Three modules:

:mod:`accelgen.flow.report.jobs`
    :func:`run_jobs` runs synthesis, Fmax and figure :class:`Job` s on a Dask
    cluster (local, or a scheduler's), each in its own process with a time
    limit, and caches their results.
:mod:`accelgen.flow.report.figures`
    :func:`figure`: a unit's own figure (accuracy, utilization, products or
    pairs per cycle), for the QoR report and ``accelgen sweep --accuracy``.
:mod:`accelgen.flow.report.baselines`
    ``bench/baselines/<target>.json``: :func:`load_baseline`,
    :func:`write_baseline`, and :func:`baseline_mismatch`, which holds a fresh
    synthesis to its entry within the tolerance.

The public names of ``jobs`` and ``baselines`` are available here.
``bench/report.py`` builds the QoR report (``make report``) and rewrites the
baselines (``make baselines``) with them, and :mod:`accelgen.flow.sweep` runs
sweeps on the same engine; ``python -m accelgen.flow.report`` is the worker
process of one job.
"""

from accelgen.flow.report import baselines, figures, jobs
from accelgen.flow.report.baselines import *  # noqa: F403 - the two modules' public names
from accelgen.flow.report.jobs import *  # noqa: F403

__all__ = ["baselines", "figures", "jobs", *jobs.__all__, *baselines.__all__]
