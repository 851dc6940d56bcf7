#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The integer encoder layer against onnxruntime: deviation figures over sizes and methods.

    .venv/bin/python bench/encoder_accuracy.py [--sizes small,tiny] [--seed 0]

For the small layer (``d_model=32, heads=2, d_ff=64, seq=8``) and a
BERT-tiny-like one (``d_model=128, heads=2, d_ff=512, seq=128``), and for each
method row below (one knob changed from the default ``lut``/``lut``/``isqrt``
with ``gemmlowp`` requantization, per-tensor weights): the layer is calibrated
on 32 seeded random-token sequences, then its golden model
(:mod:`accelgen.transformer.golden`, bit-exact with the units) runs on 8
windows of a fixed text, and its dequantized output is compared with the same
layer in float32 run by onnxruntime (:mod:`accelgen.transformer.reference`):
max and mean ``|error|`` in output LSBs, cosine similarity, RMS error over the
output's RMS, argmax agreement of a seeded 4-class head on the first token,
and the intermediate with the largest relative RMS error. Seeds are printed.
About a minute and a half on 2 cores (the BERT-tiny rows dominate).
"""

import argparse
import sys
import time

from accelgen.app.tables import format_table
from accelgen.transformer import quantize, reference
from accelgen.transformer.layer import EncoderConfig

__all__ = ["SIZES", "METHODS", "main"]

SIZES = {
    "small": dict(d_model=32, heads=2, d_ff=64, seq=8),
    "tiny": dict(d_model=128, heads=2, d_ff=512, seq=128),
}

# (label, overrides of the default configuration)
METHODS = [
    ("default", {}),
    ("softmax base2", dict(softmax_method="base2")),
    ("softmax ibert", dict(softmax_method="ibert")),
    ("gelu ibert", dict(gelu_method="ibert")),
    ("gelu pwl", dict(gelu_method="pwl")),
    ("layernorm rsqrt", dict(layernorm_method="rsqrt")),
    ("I-BERT (ibert/ibert/isqrt)", dict(softmax_method="ibert", gelu_method="ibert")),
    ("requant even", dict(requant_mode="even")),
    ("requant floor", dict(requant_mode="floor")),
    ("requant pot", dict(requant_mode="pot")),
    ("requant apot", dict(requant_mode="apot")),
    ("per-channel weights", dict(per_channel=True)),
    ("percentile 99.99", dict(percentile=99.99)),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help=f"comma-separated sizes ({', '.join(SIZES)})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = parser.parse_args(argv)
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(f"encoder_accuracy: unknown size {unknown[0]!r}; sizes are "
              f"{', '.join(SIZES)}", file=sys.stderr)
        return 2
    for size in sizes:
        base = EncoderConfig(**SIZES[size])
        start = time.time()
        cmp = reference.comparison_data(base, args.seed)
        y64 = cmp["float64"]["y"]
        agree = float(abs(cmp["onnx"] - y64).max() / abs(y64).max())
        print(f"\n{size}: {base.label.split()[0]} (d_model, heads, d_ff, seq), "
              f"{base.total_macs} MACs per sequence; seeds {cmp['seeds']}; "
              f"onnxruntime vs float64: {agree:.1e} of the output range")
        rows = []
        for label, overrides in METHODS:
            config = EncoderConfig(**{**SIZES[size], **overrides})
            model = quantize.calibrate(config, cmp["weights"], cmp["calib"],
                                       cmp["calib_float64"])
            f = reference.measure(model, cmp)
            worst = max(f["stages"], key=f["stages"].get)
            rows.append([label, model.out_frac, f"{f['max_lsb']:.2f}", f"{f['mean_lsb']:.3f}",
                         f"{f['cosine']:.5f}", f"{f['rel_rms']:.4f}", f"{f['argmax']:.3f}",
                         f"{worst} {f['stages'][worst]:.3f}"])
        print(format_table(rows, ["methods", "out_frac", "max LSB", "mean LSB", "cosine",
                                  "rel RMS", "argmax", "worst stage (rel RMS)"],
                           right=(1, 2, 3, 4, 5, 6)))
        print(f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
