# SPDX-License-Identifier: BSD-2-Clause
"""``python -m accelgen``: the command line."""

import sys

from accelgen.app.cli import main

sys.exit(main())
