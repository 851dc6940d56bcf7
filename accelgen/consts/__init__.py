# SPDX-License-Identifier: BSD-2-Clause
"""Tables and constants a unit's generator and golden model both need, in plain Python.

One module per unit (``accelgen.consts.<unit>``), importing neither NumPy nor
Amaranth (nor anything that does): the generator embeds the values as constants
at elaboration, the golden model indexes them, and both read one definition.
Functions take the unit's ``Params`` and return integers or tuples of integers.
"""

__all__ = []
