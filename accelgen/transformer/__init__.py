# SPDX-License-Identifier: BSD-2-Clause
"""The integer Transformer encoder layer: configuration, golden model, calibration, reference.

:mod:`.layer` holds the configuration and its derived facts, :mod:`.golden` the
integer model (NumPy, the units' golden models composed; no Amaranth),
:mod:`.quantize` the calibration that derives every scale and builds each
unit's parameters, :mod:`.reference` the float layer (NumPy float64 and an
ONNX graph run with onnxruntime) and the deviation figures, :mod:`.data` the
seeded weights and token embeddings (docs/encoder_layer.md). The submodules
are imported on demand: the golden side loads no Amaranth.
"""

__all__ = []
