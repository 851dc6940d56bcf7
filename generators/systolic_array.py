# SPDX-License-Identifier: BSD-2-Clause
"""Systolic GEMM array (TPU/Gemmini-like): weight-stationary or output-stationary."""

import dataclasses

from amaranth.hdl import C, Module, Signal, Cat, Mux, Shape, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.bitfusion import FusionStep, Precision, StepOperands, OPERAND_BITS, STEP_WIDTH
from accelgen.hw.formats import decode_pair, decode_typed, pair_step, shifted_product
from accelgen.hw.fparith import (decode_pair as decode_fp_pair, fp_product, align_exact,
                                 exact_lsb, exact_product_width)
from accelgen.hw.multiply import (LOGIC_PRODUCT_MAX_BITS, narrow_product, product_carry_save,
                                  product_terms, sum_terms)
from accelgen.hw.pipeline import delay_chain, register_stage
from accelgen.hw.stream import skid_output
from accelgen.num.formats import AntFormat, KINDS, default_olive_format
from accelgen.num.fpformats import get_format
from accelgen.params import (UnitParams, param, check_int, check_bool, check_choice, require,
                             int_shape)

__all__ = ["Params", "SystolicArray", "PE_TYPES", "MULTIPLIERS", "FP_FORMATS", "FP_FLAGS"]

#: How the ``int_mac`` PE multiplies (``multiplier``).
MULTIPLIERS = ("auto", "logic")
#: Element formats of the ``fp_mac`` PE.
FP_FORMATS = ("e4m3", "e5m2")
#: The ``fp_mac`` PE's per-result flags (``flags[c]`` on ``o``).
FP_FLAGS = data.StructLayout({"nan": 1, "pos_inf": 1, "neg_inf": 1})


class IntMACPE:
    """The plain integer processing element: ``product = a * w`` at the array's
    operand widths and signedness. With ``multiplier='auto'`` operands of at
    most 6 bits multiply in partial-product logic (no DSP block), wider ones
    through ``*`` as in ``int_mac`` (a DSP block where synthesis maps it);
    ``multiplier='logic'`` takes partial-product logic at every width."""

    name = "int_mac"
    mode_fields = {}  # per-beat fields beside the operands (none: fixed at elaboration)
    # The output field the PE's errors are reported in (None: the PE cannot fail),
    # its shape, and whether there is one per result (True) or one per row.
    error_field, error_shape, error_per_column = None, None, False

    @staticmethod
    def check(params):
        """Check the array parameters this PE reads (the widths are checked already)."""
        check_int(params, "acc_width", min=params.a_width + params.w_width, max=64,
                  min_expr="a_width + w_width")

    @staticmethod
    def shapes(params):
        """``(activation shape, weight shape, minimum accumulator width)``."""
        a = int_shape(params.a_width, params.a_signed)
        w = int_shape(params.w_width, params.w_signed)
        return a, w, params.a_width + params.w_width

    @staticmethod
    def product(m, params, a, w, a_mode, w_mode, prefix):
        """``(product, error)``; ``error`` is ``None`` for PEs that cannot fail. Only
        the product's value modulo ``2**acc_width`` matters."""
        product = Signal(signed(len(a) + len(w) + 1), name=f"{prefix}product")
        m.d.comb += product.eq(narrow_product(a, w))
        return product, None

    @staticmethod
    def logic_product(params, a, w):
        """Whether the product is partial-product logic (then the multiply-add
        takes it as terms of its own sum), not ``*``."""
        return (params.multiplier == "logic" or
                max(len(a), len(w)) <= LOGIC_PRODUCT_MAX_BITS)


class FusionPE:
    """The BitFusion Fusion Unit as a PE: operands are packed 32-bit words whose
    precision (``prec``: 0 = 2-bit, 1 = 4-bit, 2 = 8-bit) and ``signed`` travel
    with every activation beat and every weight row; the product is the exact sum
    of the ``(8/wa)*(8/ww)`` element products (``fusion_unit``'s step). Code 3
    adds 0 and sets ``mode_error`` on the results it touches."""

    name = "fusion_unit"
    mode_fields = {"prec": Precision, "signed": 1}
    error_field, error_shape, error_per_column = "mode_error", 1, False

    @staticmethod
    def check(params):
        _fixed_operands(params, "takes packed words with a precision per beat")
        check_int(params, "acc_width", min=STEP_WIDTH, max=64)

    @staticmethod
    def shapes(params):
        return unsigned(OPERAND_BITS), unsigned(OPERAND_BITS), STEP_WIDTH

    @staticmethod
    def product(m, params, a, w, a_mode, w_mode, prefix):
        operands = StepOperands(a=a, w=w, a_prec=a_mode.prec, w_prec=w_mode.prec,
                                a_signed=a_mode.signed, w_signed=w_mode.signed)
        step = FusionStep(m, operands, prefix=prefix)
        return step.step, step.mode_error


class AntPE:
    """The ANT PE (``ant_pe``'s datapath): activation and weight codes of
    ``a_width`` / ``w_width`` bits (4..8), signed per ``a_signed`` / ``w_signed``,
    decoded in the type (``type``: 0 int, 1 pot, 2 float (3 exponent bits), 3
    flint) that travels with every activation beat and weight row, as ANT picks
    one type per tensor; the product ``(ma * mw) << (ea + ew)`` modulo
    ``2**acc_width``. All four types are built, so no type code is an error."""

    name = "ant_pe"
    mode_fields = {"type": 2}
    error_field, error_shape, error_per_column = None, None, False

    @staticmethod
    def check(params):
        for name in ("a_width", "w_width"):
            check_int(params, name, min=4, max=8, when="pe='ant_pe'")
        check_int(params, "acc_width", min=16, max=64, when="pe='ant_pe'")

    @staticmethod
    def formats(params, width, signed):
        return [AntFormat(kind, width, signed) for kind in KINDS]

    @staticmethod
    def shapes(params):
        return unsigned(params.a_width), unsigned(params.w_width), 16

    @staticmethod
    def product(m, params, a, w, a_mode, w_mode, prefix):
        fa = AntPE.formats(params, params.a_width, params.a_signed)
        fw = AntPE.formats(params, params.w_width, params.w_signed)
        ea, ma, _ = decode_typed(m, a, a_mode.type, fa, f"{prefix}a_")
        ew, mw, _ = decode_typed(m, w, w_mode.type, fw, f"{prefix}w_")
        shift = Signal(max(len(ea), len(ew)) + 1, name=f"{prefix}shift")
        m.d.comb += shift.eq(ea + ew)
        value, _out = shifted_product(m, narrow_product(ma, mw), shift, params.acc_width, prefix)
        return value, None


class OlivePE:
    """The OliVe PE (``olive_pe``'s datapath): every activation and weight is a
    pair word of two ``a_width``-bit elements (4 or 8, ``a_width = w_width``) in
    ``olive_pe``'s default format for that width (int normals; abfloat E2M1 bias
    2 at 4 bits, E4M3 bias 4 at 8); the product is the pairs' dot product
    ``a0*w0 + a1*w1`` modulo ``2**acc_width``, so K counts pairs."""

    name = "olive_pe"
    mode_fields = {}
    error_field, error_shape, error_per_column = None, None, False

    @staticmethod
    def check(params):
        check_int(params, "a_width", min=4, max=8, when="pe='olive_pe'")
        require(params, params.a_width in (4, 8),
                f"a_width must be 4 or 8 for pe='olive_pe', not {params.a_width}")
        require(params, params.w_width == params.a_width,
                f"w_width must equal a_width = {params.a_width} for pe='olive_pe', "
                f"not {params.w_width}")
        require(params, params.a_signed and params.w_signed,
                "a_signed and w_signed must be True for pe='olive_pe' (OliVe elements "
                "are signed)")
        check_int(params, "acc_width", min=16, max=64, when="pe='olive_pe'")

    @staticmethod
    def shapes(params):
        return unsigned(2 * params.a_width), unsigned(2 * params.w_width), 16

    @staticmethod
    def product(m, params, a, w, a_mode, w_mode, prefix):
        fmt = default_olive_format(params.a_width)
        values, _outs = pair_step(m, decode_pair(m, a, fmt, f"{prefix}a_"),
                                  decode_pair(m, w, fmt, f"{prefix}w_"), params.acc_width,
                                  prefix)
        total = Signal(signed(params.acc_width), name=f"{prefix}pair_sum")
        m.d.comb += total.eq(values[0] + values[1])
        return total, None


class FpPE:
    """The OCP FP8 PE (``fp_mac``'s exact datapath): activations and weights are
    FP8 codes (``a_fmt`` / ``w_fmt``: E4M3, the OCP ``fn`` variant, or E5M2),
    decoded exactly (subnormals kept) and multiplied exactly; the product enters
    the accumulator as a two's complement fixed-point integer with LSB
    ``2**lsb_exp``, ``lsb_exp = a.exp_min + w.exp_min`` (``fp_mac``'s
    ``acc='exact'``), so a result is the exact sum of its finite products
    modulo ``2**acc_width``, no rounding. A NaN or infinite product adds 0 and
    sets the result's ``flags[c]``: ``nan`` (an operand NaN, or ``inf * 0``),
    ``pos_inf`` / ``neg_inf`` (an infinite product of that sign; E5M2 only);
    the IEEE value of a result with both infinity flags is NaN."""

    name = "fp_mac"
    mode_fields = {}
    error_field, error_shape, error_per_column = "flags", FP_FLAGS, True

    @staticmethod
    def check(params):
        _fixed_operands(params, "takes FP8 codes in the formats a_fmt and w_fmt")
        bits = exact_product_width(params.a_format, params.w_format)
        require(params, bits <= 64,
                f"pe='fp_mac' with a_fmt={params.a_fmt!r} and w_fmt={params.w_fmt!r} "
                f"needs {bits}-bit products, over acc_width's limit of 64; use 'e4m3' "
                f"for one operand")
        check_int(params, "acc_width", min=bits, max=64, when="pe='fp_mac'",
                  min_expr="the FP8 product's width")

    @staticmethod
    def shapes(params):
        bits = exact_product_width(params.a_format, params.w_format)
        return (unsigned(params.a_format.width), unsigned(params.w_format.width), bits)

    @staticmethod
    def product(m, params, a, w, a_mode, w_mode, prefix):
        fa, fw = params.a_format, params.w_format
        dec_a, dec_w = decode_fp_pair(m, a, w, fa, fw, prefix=prefix)
        product = fp_product(m, dec_a, dec_w, fa, fw, prefix=f"{prefix}fp_")
        fixed = align_exact(m, product, fa, fw, prefix=f"{prefix}fp_")
        _mant, _exp, nan, inf = product
        flags = Signal(FP_FLAGS, name=f"{prefix}flags")
        m.d.comb += [flags.nan.eq(nan), flags.pos_inf.eq(inf & ~product[0][-1]),
                     flags.neg_inf.eq(inf & product[0][-1])]
        return fixed, flags.as_value()


def _fixed_operands(params, why):
    for name in ("a_width", "w_width", "a_signed", "w_signed"):
        default = params.__dataclass_fields__[name].default
        require(params, getattr(params, name) == default,
                f"{name} does not apply to pe={params.pe!r} (it {why}); leave it at "
                f"{default}")


# The processing elements a systolic array can be built from (the ``pe``
# parameter). A new PE type is one class here with ``mode_fields``,
# ``error_field`` / ``error_shape`` / ``error_per_column``, ``check(params)``,
# ``shapes(params)`` and ``product(m, params, a, w, a_mode, w_mode, prefix)``, plus
# its product in the golden model's ``PE_PRODUCTS`` (golden/systolic_array.py).
PE_TYPES = {pe.name: pe for pe in [IntMACPE, FusionPE, AntPE, OlivePE, FpPE]}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`SystolicArray`."""

    unit = "systolic_array"

    rows: int = param(4, "PE rows (1..32): WS reduction length per pass, OS output rows",
                      abbr="r")
    cols: int = param(4, "PE columns (1..32): output columns", abbr="c")
    dataflow: str = param("ws", "'ws' (weights preloaded, double-buffered) or 'os' "
                                "(outputs accumulate in place)", abbr="df")
    a_width: int = param(8, "activation width in bits (1..32; ant_pe: code bits 4..8; "
                            "olive_pe: element bits 4 or 8)", abbr="a")
    w_width: int = param(8, "weight width in bits (as a_width)", abbr="w")
    acc_width: int = param(32, "accumulator and result width (a_width + w_width..64)",
                           abbr="acc")
    a_signed: bool = param(True, "activations are signed (int_mac: two's complement; "
                                 "ant_pe: the types' signed forms; olive_pe: must be "
                                 "true), else unsigned", abbr="as")
    w_signed: bool = param(True, "weights are signed (as a_signed)", abbr="ws")
    pe: str = param("int_mac", "processing element type: " + ", ".join(PE_TYPES))
    a_fmt: str = param("e4m3", "pe='fp_mac': activation format, e4m3 (OCP FP8) or e5m2",
                       abbr="af")
    w_fmt: str = param("e4m3", "pe='fp_mac': weight format, e4m3 or e5m2", abbr="wf")
    pipeline: int = param(1, "product register in every PE (0 or 1; adds one cycle)",
                          abbr="p")
    multiplier: str = param("auto", "pe='int_mac': 'auto' (partial-product logic for "
                                    "operands of at most 6 bits, else '*', which synthesis "
                                    "maps to a DSP block where it can) or 'logic' "
                                    "(partial-product logic at every width: no DSP block)",
                            abbr="mul")

    def __post_init__(self):
        check_int(self, "rows", min=1, max=32)
        check_int(self, "cols", min=1, max=32)
        check_choice(self, "dataflow", ("ws", "os"))
        check_int(self, "a_width", min=1, max=32)
        check_int(self, "w_width", min=1, max=32)
        check_bool(self, "a_signed")
        check_bool(self, "w_signed")
        check_choice(self, "pe", tuple(PE_TYPES))
        check_choice(self, "a_fmt", FP_FORMATS)
        check_choice(self, "w_fmt", FP_FORMATS)
        if self.pe != "fp_mac":
            for name in ("a_fmt", "w_fmt"):
                require(self, getattr(self, name) == "e4m3",
                        f"{name} applies to pe='fp_mac' only; leave it at 'e4m3' for "
                        f"pe={self.pe!r}")
        self.pe_type.check(self)
        check_int(self, "pipeline", min=0, max=1)
        check_choice(self, "multiplier", MULTIPLIERS)
        require(self, self.multiplier == "auto" or self.pe == "int_mac",
                f"multiplier applies to pe='int_mac' only; leave it at 'auto' for "
                f"pe={self.pe!r}")

    @property
    def pe_type(self):
        return PE_TYPES[self.pe]

    @property
    def a_format(self):
        """``pe='fp_mac'``: the activation format (accelgen.num.fpformats)."""
        return get_format(self.a_fmt)

    @property
    def w_format(self):
        """``pe='fp_mac'``: the weight format."""
        return get_format(self.w_fmt)

    @property
    def lsb_exp(self):
        """``pe='fp_mac'``: a result is ``data[c] * 2**lsb_exp`` (``a.exp_min + w.exp_min``)."""
        return exact_lsb(self.a_format, self.w_format)

    @property
    def acc_signed(self):
        """Two's complement when either operand can be signed (always for packed PEs)."""
        return self.a_signed or self.w_signed or self.pe == "fusion_unit"

    @property
    def latency(self):
        """WS: cycles from accepting an activation beat to its result row. OS: from
        accepting a tile's last beat to its first result row."""
        return self.rows + self.cols - 1 + self.pipeline

    @property
    def throughput(self):
        """Activation beats (WS) or operand beats (OS) accepted per cycle."""
        return 1

    def a_shape(self):
        return self.pe_type.shapes(self)[0]

    def w_shape(self):
        return self.pe_type.shapes(self)[1]

    def acc_shape(self):
        return int_shape(self.acc_width, self.acc_signed)

    def a_layout(self):
        return data.StructLayout({"data": data.ArrayLayout(self.a_shape(), self.rows),
                                  "last": 1, **self.pe_type.mode_fields})

    def w_layout(self):
        return data.StructLayout({"data": data.ArrayLayout(self.w_shape(), self.cols),
                                  **self.pe_type.mode_fields})

    def o_layout(self):
        pe, errors = self.pe_type, {}
        if pe.error_field:
            errors[pe.error_field] = (data.ArrayLayout(pe.error_shape, self.cols)
                                      if pe.error_per_column else pe.error_shape)
        return data.StructLayout({"data": data.ArrayLayout(self.acc_shape(), self.cols),
                                  "last": 1, **errors})

    def manifest_extra(self):
        if self.dataflow == "ws":
            streams = ("w: one weight row per beat (data[c] = W[r][c]), rows 0..rows-1 "
                       "form a tile, loaded into the idle bank; a: one activation row "
                       "per beat (data[r] multiplies weight row r), last closes the "
                       "tile; o: one result row per activation beat, "
                       "o[c] = sum_r a[r] * W[r][c] mod 2**acc_width, last on the "
                       "tile's final row")
        else:
            streams = ("a and w are consumed together: beat k carries A[:, k] on a "
                       "(data[r]) and B[k, :] on w (data[c]); a.last closes the tile; "
                       "o: rows 0..rows-1 of the tile's A @ B (mod 2**acc_width), "
                       "last on row rows-1")
        extra = {"dataflow": self.dataflow, "streams": streams,
                 "cycle_model": "cycles(params, m, k, n) in golden/systolic_array.py"}
        if self.pe == "fp_mac":
            extra.update({"a_format": self.a_format.manifest(),
                          "w_format": self.w_format.manifest(),
                          "result": "data[c] * 2**lsb_exp (two's complement, exact sum of "
                                    "the finite products mod 2**acc_width); flags[c]: nan, "
                                    "pos_inf, neg_inf", "lsb_exp": self.lsb_exp})
        return extra


class SystolicArray(wiring.Component):
    """A ``rows x cols`` systolic array of multiply-accumulate PEs.

    Both dataflows skew inputs and de-skew outputs inside the unit, so users
    stream plain row vectors; every result is exact modulo ``2**acc_width`` (read
    as two's complement when either operand is signed).

    Overflow: wraps, with no saturation and no flag, for every PE type. Each PE
    keeps its product and partial sum modulo ``2**acc_width``, so a result is
    ``A @ B`` modulo ``2**acc_width`` however far the exact sum left the range
    (the ``ant_pe`` and ``olive_pe`` PEs do not keep their units' ``overflow``
    flag; the Fusion PE's ``mode_error`` flags precision codes only, the FP8
    PE's ``flags[c]`` NaN and infinite products only).

    Errors: the Fusion PE's ``mode_error`` is one flag per result row (its
    modes travel per beat and weight row); the FP8 PE's ``flags[c]`` (``nan``,
    ``pos_inf``, ``neg_inf``) are one set per result, ORed over the products
    of that result like its sum.

    **WS** (weight stationary, TPU v1): ``w`` loads a weight tile, one row per
    beat (``rows`` beats), into whichever of two banks is idle, while the other
    bank computes; ``a`` streams activation rows, ``data[r]`` meeting weight row
    ``r``; ``a.last`` ends the tile and switches banks. Each activation beat
    yields one row on ``o``: ``o[c] = sum_r a[r] * W[r][c]``, ``latency = rows +
    cols - 1 + pipeline`` cycles after it is accepted, with ``o.last`` on the
    tile's final row. An activation beat waits until its bank is fully loaded; a
    weight beat waits while its bank is in use, either still full or read by an
    activation beat less than ``rows + cols - 1`` cycles old. Activations flow
    right and partial sums down; each PE's weight is selected from the beat's
    bank a cycle ahead and registered, so no multiplexer sits in front of the
    multiplier. ``o`` is driven through a one-beat skid register
    (:func:`accelgen.hw.stream.skid_output`): a beat ``o`` refuses moves into
    it, and the array stalls as a whole while it holds a beat, so the stall
    is a flip-flop rather than ``o.ready`` (whose fan-out to every register
    of a large array would be the critical path). ``w.ready`` is likewise a
    register, loaded with its next value (from the banks' next state), and the
    loading row is kept one-hot, so a weight register's enable is one LUT of
    flip-flops.

    **OS** (output stationary): beat ``k`` of a tile carries ``A[:, k]`` on ``a``
    and ``B[k, :]`` on ``w``. The two streams are consumed together and the tile
    may have any length ``K``. PE ``(r, c)`` accumulates ``A[r, k] * B[k, c]``.
    The tile's last beat moves every sum into a result register (accumulation
    of the next tile starts at once). ``o`` then emits rows ``0 .. rows-1`` of the
    ``rows x cols`` result, the first ``latency`` cycles after that beat, with
    ``o.last`` on the final row. A tile's last beat waits until the previous
    tile's results have all been taken.

    Throughput: one beat per cycle. Synchronous reset empties the array, the
    weight banks' fill state and any undelivered results. Cycle counts for a
    whole GEMM are given exactly by the golden model's ``cycles(params, m, k, n)``
    (golden/systolic_array.py).

    Members
    -------
    a : In(stream.Signature(Params.a_layout()))
    w : In(stream.Signature(Params.w_layout()))
    o : Out(stream.Signature(Params.o_layout()))
    """

    # No fixed formula: WS ``a.ready`` reads the banks' fill state and ``w.ready``
    # their use; OS ``a.ready`` and ``w.ready`` each read the other input's ``valid``.
    ready_contract = None

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "a": In(stream.Signature(params.a_layout())),
            "w": In(stream.Signature(params.w_layout())),
            "o": Out(stream.Signature(params.o_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        if self.params.dataflow == "ws":
            self._weight_stationary(m)
        else:
            self._output_stationary(m)
        return m

    def _product(self, m, a, w, a_mode, w_mode, advance, prefix):
        """The PE's ``(product, error)``, registered once more with ``pipeline``."""
        p = self.params
        product, error = p.pe_type.product(m, p, a, w, a_mode, w_mode, prefix)
        error = 0 if error is None else error
        if p.pipeline:
            s = register_stage(m, advance, f"{prefix}product_reg", product=product,
                               error=error)
            product, error = s.product, s.error
        return product, error

    def _multiply_add(self, m, prev, a, w, a_mode, w_mode, advance, prefix):
        """``(prev + product, error)`` (``prev`` ``None``: the product alone), at
        the accumulator's shape. When the PE's product is partial-product logic
        (``logic_product``), the partial products and ``prev`` are summed
        together: carry-save levels and one carry chain, not one chain for the
        product and another for the sum. With ``pipeline == 1`` the product
        register then holds the partial products' two carry-save rows
        (:func:`accelgen.hw.multiply.product_carry_save`), and the chain after
        it adds them, their constant and ``prev``."""
        p = self.params
        is_logic = getattr(p.pe_type, "logic_product", None)
        total = Signal(p.acc_shape(), name=f"{prefix}sum")
        if is_logic is not None and is_logic(p, a, w):
            addend = [prev] if prev is not None else []
            if p.pipeline == 0:
                terms = product_terms(a, w, p.acc_width)
            else:
                rows, constant = product_carry_save(a, w)
                s = register_stage(m, advance, f"{prefix}product_reg",
                                   **{f"row{k}": row for k, row in enumerate(rows)})
                terms = [s[f"row{k}"] for k in range(len(rows))]
                if constant % (1 << p.acc_width):
                    terms.append(C(constant % (1 << p.acc_width), p.acc_width))
            m.d.comb += total.eq(sum_terms(terms + addend, p.acc_width))
            return total, 0
        product, error = self._product(m, a, w, a_mode, w_mode, advance, prefix)
        m.d.comb += total.eq(product if prev is None else prev + product)
        return total, error

    def _mode_bits(self, payload):
        """The PE's mode fields of a stream payload as one value (``C(0)`` if none)."""
        fields = self.params.pe_type.mode_fields
        return Cat(*(getattr(payload, name) for name in fields)) if fields else C(0, 1)

    def _modes(self, m, value, name):
        """A view of the PE's mode fields of a payload (or of a register holding them)."""
        layout = data.StructLayout(self.params.pe_type.mode_fields)
        if not self.params.pe_type.mode_fields:
            return None
        held = Signal(layout, name=name)
        m.d.comb += held.eq(value)
        return held

    def _weight_stationary(self, m):
        p = self.params
        rows, cols, depth = p.rows, p.cols, p.latency
        reads = rows + cols - 2  # deepest depth at which a PE reads its weight

        # The array's last stage: o through a skid register, so that the array's
        # stall (advance) is a flip-flop, not a function of o.ready.
        out = Signal(p.o_layout(), name="array_out")
        out_valid = Signal(name="array_out_valid")
        advance = skid_output(m, self.o, out_valid, out)

        weights = [[[Signal(p.w_shape(), name=f"w{b}_{r}_{c}") for c in range(cols)]
                    for r in range(rows)] for b in range(2)]
        full = Signal(2)
        load_bank, act_bank = Signal(), Signal()
        # the row a weight beat loads, one-hot, so that a weight register's enable
        # is one LUT of flip-flops
        load_row = Signal(rows, name="load_row", init=1)

        take_a = Signal()
        m.d.comb += [self.a.ready.eq(advance & full.bit_select(act_bank, 1)),
                     take_a.eq(self.a.valid & self.a.ready)]
        valid = delay_chain(m, take_a, "valid", depth, advance)
        last = delay_chain(m, self.a.payload.last, "last", depth, advance)
        bank = delay_chain(m, act_bank, "bank", reads, advance)
        a_mode = delay_chain(m, self._mode_bits(self.a.payload), "a_mode", reads, advance)
        w_mode_bits = self._mode_bits(self.w.payload)
        w_modes = [[Signal.like(w_mode_bits, name=f"w{b}_{r}_mode") for r in range(rows)]
                   for b in range(2)]

        # The bank state's next values, so that w.ready is a register loaded with
        # its next value: the weight registers' enables then start at flip-flops.
        # busy[b]: a beat at depth 1 .. reads reads bank b (the chains shift on
        # ``advance``).
        w_take = Signal()
        m.d.comb += w_take.eq(self.w.valid & self.w.ready)
        at_end = load_row[rows - 1]
        full_next, load_bank_next = Signal(2), Signal()
        m.d.comb += [full_next.eq(full), load_bank_next.eq(load_bank)]
        with m.If(w_take & at_end):
            m.d.comb += [full_next.bit_select(load_bank, 1).eq(1), load_bank_next.eq(~load_bank)]
        with m.If(take_a & self.a.payload.last):
            m.d.comb += full_next.bit_select(act_bank, 1).eq(0)
        busy_next = [Signal(name=f"bank{b}_read_next") for b in range(2)]
        if reads >= 1:
            def reading(b, depths):
                return Cat(*[valid[d] & (bank[d] == b) for d in depths]).any()
            for b in range(2):
                m.d.comb += busy_next[b].eq(Mux(advance, reading(b, range(0, reads)),
                                                reading(b, range(1, reads + 1))))
        # free[b]: bank b is neither full nor read next cycle, unless the loading
        # bank fills now (w_take, the widest fan-out, enters at the last LUT).
        cleared = take_a & self.a.payload.last
        free = [~(full[b] & ~(cleared & (act_bank == b))) & ~busy_next[b] for b in range(2)]
        w_ready = Signal(name="w_ready", init=1)
        m.d.sync += [full.eq(full_next), load_bank.eq(load_bank_next),
                     w_ready.eq(Mux(w_take & at_end, Mux(load_bank, free[0], free[1]),
                                    Mux(load_bank, free[1], free[0])))]
        m.d.comb += self.w.ready.eq(w_ready)
        with m.If(w_take):
            m.d.sync += load_row.eq(load_row.rotate_left(1))
            for b in range(2):
                for r in range(rows):
                    with m.If((load_bank == b) & load_row[r]):
                        m.d.sync += [weights[b][r][c].eq(self.w.payload.data[c])
                                     for c in range(cols)]
                        m.d.sync += w_modes[b][r].eq(w_mode_bits)
        with m.If(take_a & self.a.payload.last):
            m.d.sync += act_bank.eq(~act_bank)

        # Each PE's weight (and its mode) for the beat at its depth d, selected from
        # the beat's bank one cycle ahead and registered, so that no bank multiplexer
        # sits in front of the multiplier. The bank cannot change under the beat: it
        # is full (depth 0) or read by the beat (depths 1 .. reads).
        next_bank = Mux(take_a & self.a.payload.last, ~act_bank, act_bank)
        row0 = load_row[0]
        selected = {}
        for r in range(rows):
            for c in range(cols):
                pair = [Cat(weights[b][r][c], w_modes[b][r]) for b in range(2)]
                sel = selected[r, c] = Signal(len(pair[0]), name=f"pe{r}_{c}_weight")
                if r + c == 0:
                    # PE (0, 0) reads the active bank at depth 0: follow its next state.
                    written = w_take & (load_bank == next_bank) & row0
                    m.d.sync += sel.eq(Mux(written,
                                           Cat(self.w.payload.data[0], w_mode_bits),
                                           Mux(next_bank, pair[1], pair[0])))
                else:
                    with m.If(advance):
                        m.d.sync += sel.eq(Mux(bank[r + c - 1], pair[1], pair[0]))

        psum = [[None] * cols for _ in range(rows)]
        error = [[None] * cols for _ in range(rows)]
        per_column = p.pe_type.error_per_column
        w_bits = len(weights[0][0][0])
        for r in range(rows):
            a_chain = delay_chain(m, self.a.payload.data[r], f"a{r}", r + cols - 1, advance)
            for c in range(cols):
                d, prefix = r + c, f"pe{r}_{c}_"
                w = selected[r, c][:w_bits]
                if p.w_shape().signed:
                    w = w.as_signed()
                modes = (self._modes(m, a_mode[d], f"{prefix}a_mode"),
                         self._modes(m, selected[r, c][w_bits:], f"{prefix}w_mode"))
                total, err = self._multiply_add(m, psum[r - 1][c] if r else None, a_chain[d],
                                                w, *modes, advance, prefix)
                acc = psum[r][c] = Signal(p.acc_shape(), name=f"psum{r}_{c}")
                with m.If(advance):
                    m.d.sync += acc.eq(total)
                # Errors flow down with the partial sums: per result, or (errors of
                # per-row modes) in the last column only, whose flags stand for the row.
                if p.pe_type.error_field and (per_column or c == cols - 1):
                    flag = error[r][c] = Signal(len(Value.cast(err)), name=f"error{r}_{c}")
                    with m.If(advance):
                        m.d.sync += flag.eq((error[r - 1][c] if r else 0) | err)
        for c in range(cols):
            m.d.comb += out.data[c].eq(delay_chain(m, psum[rows - 1][c], f"out{c}",
                                                   cols - 1 - c, advance)[-1])
            if per_column:
                flag = delay_chain(m, error[rows - 1][c], f"out{c}_error", cols - 1 - c,
                                   advance)[-1]
                m.d.comb += out[p.pe_type.error_field][c].eq(flag)
        m.d.comb += [out_valid.eq(valid[depth]), out.last.eq(last[depth])]
        if p.pe_type.error_field and not per_column:
            m.d.comb += out[p.pe_type.error_field].eq(error[rows - 1][cols - 1])

    def _output_stationary(self, m):
        p = self.params
        rows, cols, depth = p.rows, p.cols, p.latency
        always = 1

        draining = Signal()
        row = Signal(range(rows)) if rows > 1 else None
        both = Signal()
        take = Signal()
        in_flight = Signal()
        m.d.comb += both.eq(self.a.valid & self.w.valid)
        ok = ~self.a.payload.last | ~(in_flight | draining)
        m.d.comb += [self.a.ready.eq(self.w.valid & ok), self.w.ready.eq(self.a.valid & ok),
                     take.eq(both & ok)]
        valid = delay_chain(m, take, "valid", depth - 1, always)
        last = delay_chain(m, take & self.a.payload.last, "last", depth - 1, always)
        m.d.comb += in_flight.eq(Cat(*last[1:depth]).any() if depth > 1 else 0)

        shadow = [[Signal(p.acc_shape(), name=f"result{r}_{c}") for c in range(cols)]
                  for r in range(rows)]
        a_chains = [delay_chain(m, self.a.payload.data[r], f"a{r}", r + cols - 1, always)
                    for r in range(rows)]
        w_chains = [delay_chain(m, self.w.payload.data[c], f"b{c}", c + rows - 1, always)
                    for c in range(cols)]
        a_mode = delay_chain(m, self._mode_bits(self.a.payload), "a_mode", rows + cols - 2,
                             always)
        w_mode = delay_chain(m, self._mode_bits(self.w.payload), "w_mode", rows + cols - 2,
                             always)
        pe = p.pe_type
        per_column = pe.error_per_column
        flag_width = Shape.cast(pe.error_shape).width if pe.error_field else 1
        # Errors: one sticky flag and result register per PE (per result), or per row
        # from column 0 (errors of per-beat modes, the same in every column).
        shadow_error = [[Signal(flag_width, name=f"result{r}_{c}_error") for c in range(cols)]
                        for r in range(rows)]
        for r in range(rows):
            for c in range(cols):
                d, prefix = r + c, f"pe{r}_{c}_"
                modes = (self._modes(m, a_mode[d], f"{prefix}a_mode"),
                         self._modes(m, w_mode[d], f"{prefix}w_mode"))
                acc = Signal(p.acc_shape(), name=f"acc{r}_{c}")
                total, err = self._multiply_add(m, acc, a_chains[r][d], w_chains[c][d], *modes,
                                                always, prefix)
                d += p.pipeline  # the depth at which the product is added
                with m.If(valid[d] & last[d]):
                    m.d.sync += [shadow[r][c].eq(total), acc.eq(0)]
                with m.Elif(valid[d]):
                    m.d.sync += acc.eq(total)
                if pe.error_field and (per_column or c == 0):
                    sticky = Signal(flag_width, name=f"acc{r}_{c}_error")
                    with m.If(valid[d] & last[d]):
                        m.d.sync += [shadow_error[r][c].eq(sticky | err), sticky.eq(0)]
                    with m.Elif(valid[d]):
                        m.d.sync += sticky.eq(sticky | err)

        # Results: the last register is written at depth rows + cols - 2 + pipeline, so
        # rows leave one per cycle from `depth` on.
        with m.If(last[depth - 1]):
            m.d.sync += draining.eq(1)
            if row is not None:
                m.d.sync += row.eq(0)
        with m.If(self.o.valid & self.o.ready):
            at_end = (row == rows - 1) if row is not None else 1
            with m.If(at_end):
                m.d.sync += draining.eq(0)
            if row is not None:
                with m.Else():
                    m.d.sync += row.eq(row + 1)
        m.d.comb += self.o.valid.eq(draining)
        outputs = [(self.o.payload.data[c], [shadow[r][c] for r in range(rows)])
                   for c in range(cols)]
        if pe.error_field and per_column:
            outputs += [(self.o.payload[pe.error_field][c],
                         [shadow_error[r][c] for r in range(rows)]) for c in range(cols)]
        elif pe.error_field:
            outputs.append((self.o.payload[pe.error_field],
                            [shadow_error[r][0] for r in range(rows)]))
        for port, registers in outputs:
            if row is None:
                m.d.comb += port.eq(registers[0])
            else:
                with m.Switch(row):
                    for r in range(rows - 1):
                        with m.Case(r):
                            m.d.comb += port.eq(registers[r])
                    with m.Default():  # rows - 1 (and codes past it, never reached)
                        m.d.comb += port.eq(registers[rows - 1])
        m.d.comb += self.o.payload.last.eq((row == rows - 1) if row is not None else 1)
