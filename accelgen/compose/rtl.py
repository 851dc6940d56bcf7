# SPDX-License-Identifier: BSD-2-Clause
"""The composed pipeline as one Amaranth component, its connection checks and emission.

:class:`Pipeline` holds the units of a :class:`~accelgen.compose.spec.PipelineSpec`
as submodules and joins each stage's output stream to the next stage's input
stream; :func:`connections` checks every join when the pipeline is built (element
width, signedness, lanes, fixed-point scale, and the stream's shape), and
:func:`emit_pipeline` gives the Verilog (one module) and the manifest of the whole.
"""

import dataclasses
import re

from amaranth.hdl import Module, Shape
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen import __version__
from accelgen.compose.spec import REQUANT, PipelineSpec
from accelgen.registry import get_unit

__all__ = ["End", "Link", "connections", "Pipeline", "emit_pipeline", "scale_frac"]

_SCALE = re.compile(r"2\*\*(?:-([0-9]+)|0)")


def scale_frac(text, where):
    """``N`` of a manifest scale ``"2**-N"`` (``"2**0"`` is 0); ``ValueError``
    naming ``where`` for any other form."""
    match = _SCALE.fullmatch(str(text))
    if match is None:
        raise ValueError(f"{where} has the scale {text!r}, not a power of two 2**-N")
    return int(match.group(1) or 0)


@dataclasses.dataclass(frozen=True)
class End:
    """One end of a connection: the ``stage``, its ``role`` (``"input"`` or
    ``"output"``), stream ``port`` and payload ``field`` (``None``: the whole
    payload is the value), the element ``width``,
    ``signed``, ``lanes`` (a scalar payload is one lane, ``array`` false), whether
    the payload has ``last``, and the scale ``2**-frac`` (``None``: any scale)."""

    stage: object
    role: str
    port: str
    field: str
    width: int
    signed: bool
    lanes: int
    array: bool
    last: bool
    frac: int

    def text(self, verb):
        """``stage 1 (requant) output y is 8-bit signed at 2**-4`` (``verb``: ``is``
        or ``takes``)."""
        lanes = f"{self.lanes} lanes of " if self.lanes != 1 else ""
        scale = "any scale" if self.frac is None else \
            ("2**0" if self.frac == 0 else f"2**-{self.frac}")
        return (f"{self.stage.label} {self.role} {self.field or self.port} {verb} {lanes}"
                f"{self.width}-bit {'signed' if self.signed else 'unsigned'} at {scale}")


@dataclasses.dataclass(frozen=True)
class Link:
    """A checked join from ``source`` (an :class:`End`) to ``sink``; ``last`` is
    ``"pass"`` (both have it), ``"drop"`` (only the source) or ``"tie"`` (only
    the sink: every beat ends a packet, ``last = 1``), or ``None`` (neither)."""

    source: End
    sink: End
    last: str


def _streams(component, flow):
    return {name: member for name, member in component.signature.members.items()
            if member.is_signature and member.flow == flow}


def _end(stage, port, member, role):
    """The :class:`End` of ``stage``'s stream ``port`` (``role``: ``"input"`` or
    ``"output"``); ``ValueError`` when the stream cannot be joined."""
    sig = member.signature
    if not isinstance(sig, stream.Signature) or sig.always_valid or sig.always_ready:
        raise ValueError(f"{stage.label} {role} {port} is not a stream with valid and "
                         f"ready; it cannot be joined")
    shape = sig.members["payload"].shape
    has_last, field = False, None
    if isinstance(shape, data.StructLayout):
        names = [name for name, _f in shape]
        has_last = "last" in names
        values = [name for name in names if name != "last"]
        if len(values) != 1:
            raise ValueError(f"{stage.label} {role} {port} has the fields "
                             f"{', '.join(names)}; a join takes one value field "
                             f"(and last)")
        field = values[0]
        shape = shape[field].shape
    array = isinstance(shape, data.ArrayLayout)
    lanes = shape.length if array else 1
    element = Shape.cast(shape.elem_shape if array else shape)
    params, frac = stage.params, 0
    if stage.unit == REQUANT:
        frac = stage.out_frac if role == "output" else stage.in_frac
    else:
        key = "output_scale" if role == "output" else "input_scale"
        extra = params.manifest_extra()
        if key in extra:
            frac = scale_frac(extra[key], f"{stage.label} {role} {port}")
    return End(stage, role, port, field, element.width, element.signed, lanes, array,
               has_last, frac)


def _output(stage, component):
    outs = _streams(component, Out)
    if len(outs) != 1:
        raise ValueError(f"{stage.label} has the output streams "
                         f"{', '.join(outs) or '(none)'}; a stage has one")
    return next(iter(outs.items()))


def connections(spec, components):
    """The checked :class:`Link` of each pair of adjacent stages of ``spec``, whose
    built components are ``components``. ``ValueError``, one line naming both
    ends, when element width, signedness, lanes or fixed-point scale differ:
    ``stage 1 (requant) output y is 8-bit signed at 2**-4, but stage 2 (gelu)
    input x takes 8-bit signed at 2**-5``; also when a stage after the first has
    more than one input stream, or a joined stream carries other fields."""
    links = []
    for k in range(1, len(spec.stages)):
        before, after = spec.stages[k - 1], spec.stages[k]
        ins = _streams(components[k], In)
        if len(ins) != 1:
            raise ValueError(f"{after.label} has the input streams "
                             f"{', '.join(ins) or '(none)'}; a stage after the first "
                             f"takes exactly one")
        source = _end(before, *_output(before, components[k - 1]), "output")
        sink = _end(after, *next(iter(ins.items())), "input")
        same = (source.width, source.signed, source.lanes) == \
            (sink.width, sink.signed, sink.lanes)
        if not same or (sink.frac is not None and source.frac != sink.frac):
            raise ValueError(f"{source.text('is')}, but {sink.text('takes')}")
        last = {(True, True): "pass", (True, False): "drop", (False, True): "tie",
                (False, False): None}[source.last, sink.last]
        links.append(Link(source, sink, last))
    return links


class Pipeline(wiring.Component):
    """The stages of ``spec`` joined stream to stream, in one component.

    Each stage is its unit's component, a submodule ``stage<k>``. The pipeline's
    inputs are the first stage's input streams under their own names (``i``;
    ``a`` and ``w`` for ``systolic_array``), its output ``o`` the last stage's
    output stream. A join is combinational: ``valid`` and the value lanes go
    forward, ``ready`` back, so every stage keeps its own stall rule. ``last``
    passes where both ends have it, is dropped where the sink has none, and is 1
    on every beat where only the sink has it (a source without ``last``, such as
    ``int_mac``'s one result per packet, sends packets of one beat). Vector units
    (``softmax``, ``layernorm``) count their own vector boundaries.

    Latency: the sum of the stages' latencies (each in its own terms: from the
    beat, packet or vector that completes its result), ``None`` when one is
    unknown; throughput: the least of the stages' throughputs.

    Parameters
    ----------
    spec : PipelineSpec

    Raises
    ------
    TypeError
        ``spec`` is not a :class:`PipelineSpec`.
    ValueError
        A join does not agree (:func:`connections`).
    """

    def __init__(self, spec):
        if not isinstance(spec, PipelineSpec):
            self._MustUse__silence = True  # never built: no unused-elaboratable warning
            raise TypeError(f"Pipeline spec must be a PipelineSpec (accelgen.compose.spec"
                            f".parse), not {spec!r}")
        self.spec = spec
        self.components = [get_unit(s.unit).build(s.params) for s in spec.stages]
        try:
            self.links = connections(spec, self.components)
            self.output_port, out = _output(spec.stages[-1], self.components[-1])
        except ValueError:
            # built only to read their signatures: no unused-elaboratable warnings
            for component in (self, *self.components):
                component._MustUse__silence = True
            raise
        members = dict(_streams(self.components[0], In))
        members["o"] = out
        super().__init__(members)

    @property
    def latency(self):
        """The sum of the stages' latencies, or ``None`` if one is not an integer."""
        values = [s.params.latency for s in self.spec.stages]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return sum(values)
        return None

    @property
    def throughput(self):
        """The least of the stages' throughputs."""
        return min((s.params.throughput for s in self.spec.stages), key=float)

    def elaborate(self, platform):
        m = Module()
        for k, component in enumerate(self.components):
            m.submodules[f"stage{k}"] = component
        first = self.components[0]
        for name in _streams(first, In):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(first, name))
        wiring.connect(m, getattr(self.components[-1], self.output_port),
                       wiring.flipped(self.o))
        for k, link in enumerate(self.links):
            src = getattr(self.components[k], link.source.port)
            dst = getattr(self.components[k + 1], link.sink.port)
            m.d.comb += [dst.valid.eq(src.valid), src.ready.eq(dst.ready)]
            value = src.payload if link.source.field is None else \
                src.payload[link.source.field]
            target = dst.payload if link.sink.field is None else \
                dst.payload[link.sink.field]
            if link.source.array == link.sink.array:
                m.d.comb += target.eq(value)
            elif link.sink.array:  # a scalar into one lane
                m.d.comb += target[0].eq(value)
            else:  # one lane into a scalar
                m.d.comb += target.eq(value[0])
            if link.last == "pass":
                m.d.comb += dst.payload.last.eq(src.payload.last)
            elif link.last == "tie":
                m.d.comb += dst.payload.last.eq(1)
        return m


def emit_pipeline(spec):
    """The :class:`~accelgen.flow.emit.Emitted` Verilog (one module named
    ``spec.name``, the stages flattened into it) and manifest of ``spec``: ``unit``
    ``"pipeline"``, ``module``, ``stages`` (each unit, its full parameters and
    declared scales), ``ports``, ``latency``, ``throughput`` and, per join,
    ``links`` (``from``, ``to``, ``last`` rule). ``ValueError`` as :class:`Pipeline`."""
    from accelgen.flow.emit import emit_component
    pipeline = Pipeline(spec)
    stages = spec.as_dict()["stages"]
    for entry, stage in zip(stages, spec.stages):
        entry["latency"] = stage.params.latency
        entry["throughput"] = stage.params.throughput
    links = [{"from": f"{link.source.stage.label} {link.source.field or link.source.port}",
              "to": f"{link.sink.stage.label} {link.sink.field or link.sink.port}",
              "last": link.last} for link in pipeline.links]
    chain = " -> ".join(s.unit for s in spec.stages)
    header = [f"Generated by accelgen {__version__}: pipeline {chain}, module {spec.name}.",
              f"Stages and ports, latency and throughput: {spec.name}.json. Do not edit."]
    head = {"unit": "pipeline", "module": spec.name,
            "summary": f"composed pipeline {chain}", "stages": stages}
    tail = {"links": links, "latency": pipeline.latency,
            "throughput": pipeline.throughput}
    return emit_component(pipeline, spec.name, header=header, head=head, tail=tail)
