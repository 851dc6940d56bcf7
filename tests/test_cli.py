# SPDX-License-Identifier: BSD-2-Clause
"""The command-line contract: output formats, reproducibility, one-line errors."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from accelgen.app.catalogue import START, END, design_pages
from accelgen.app.cli import main
from accelgen.registry import UNITS


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_table(capsys):
    status, out, _ = run(capsys, "list")
    assert status == 0
    for name in UNITS:
        assert name in out


def test_list_table_shows_defaults_and_ranges(capsys):
    status, out, _ = run(capsys, "list")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("int_mac "))
    assert ("a_width=8 (1..32), b_width=8 (1..32), acc_width=32 (a_width + b_width..64), "
            "a_signed=true, b_signed=true, pipeline=1 (0..4)") in line


def test_list_json_schema(capsys):
    status, out, _ = run(capsys, "list", "--json")
    assert status == 0
    units = json.loads(out)
    assert [u["name"] for u in units] == list(UNITS)
    for u in units:
        assert set(u) == {"name", "summary", "params", "presets"}
        unit = UNITS[u["name"]]
        assert u["presets"] == {k: dict(v) for k, v in unit.presets.items()}
        assert list(u["params"]) == list(unit.params_cls.describe())
        for name, spec in u["params"].items():
            assert set(spec) == {"name", "type", "default", "range", "doc"}
            assert spec["name"] == name
            assert spec["type"] in ("int", "bool", "str")
            if spec["type"] == "int":
                assert set(spec["range"]) >= {"min", "max"}
    mac = units[list(UNITS).index("int_mac")]["params"]
    assert mac["acc_width"] == {"name": "acc_width", "default": 32, "type": "int",
                                "range": {"min": 16, "max": 64,
                                          "min_expr": "a_width + b_width"},
                                "doc": "accumulator and result width (a_width + b_width..64)"}
    assert mac["a_signed"]["range"] is None and mac["a_signed"]["default"] is True
    assert units[list(UNITS).index("int_mac")]["presets"]["large"]["acc_width"] == 48


def test_generate_writes_verilog_and_manifest(capsys, tmp_path):
    status, out, _ = run(capsys, "generate", "int_mac", "-p", "acc_width=24",
                         "-p", "a_signed=false", "-o", str(tmp_path))
    assert status == 0
    module = "int_mac__acc24_noas"
    assert out.split() == [str(tmp_path / f"{module}{suffix}")
                           for suffix in (".v", ".json", ".vlt", ".core", ".f")]
    manifest = json.loads((tmp_path / f"{module}.json").read_text())
    assert set(manifest) >= {"unit", "module", "params", "ports", "latency", "throughput",
                             "accelgen_version"}
    assert manifest["module"] == module
    assert manifest["params"]["acc_width"] == 24 and manifest["params"]["a_signed"] is False
    ports = {p["name"]: p for p in manifest["ports"]}
    assert ports["o__payload"] == {"name": "o__payload", "dir": "out", "width": 24,
                                   "signed": True}
    assert ports["i__payload"]["fields"]["a"] == {"offset": 0, "width": 8, "signed": False}
    assert ports["clk"]["role"] == "clock"
    verilog = (tmp_path / f"{module}.v").read_text()
    assert f"module {module}(" in verilog
    assert str(tmp_path) not in verilog and "/work" not in verilog


def test_generate_is_reproducible(capsys, tmp_path):
    for out in ("a", "b"):
        assert run(capsys, "generate", "int_mac", "--preset", "large",
                   "-o", str(tmp_path / out))[0] == 0
    for name in ("int_mac__a16_b16_acc48_p3.v", "int_mac__a16_b16_acc48_p3.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("argv,message", [
    (["generate", "nosuch"], "unknown unit 'nosuch'; units are " + ", ".join(UNITS)),
    (["generate", "int_mac", "-p", "acc_width=0"],
     "int_mac acc_width must be an integer from a_width + b_width = 16 to 64, not 0"),
    (["generate", "int_mac", "-p", "acc_width=wide"],
     "int_mac acc_width must be a decimal integer (digits 0-9, optional leading '-'), "
     "not 'wide'"),
    (["generate", "int_mac", "-p", "depth=3"],
     "unit int_mac has no parameter 'depth'; parameters are a_width, b_width, acc_width, "
     "a_signed, b_signed, pipeline"),
    (["generate", "int_mac", "-p", "acc_width"], "-p expects NAME=VALUE, not 'acc_width'"),
    (["generate", "int_mac", "-p", "b_signed=maybe"],
     "int_mac b_signed must be one of true, false, 1, 0, not 'maybe'"),
    (["generate", "int_mac", "-p", "a_signed=yes"],
     "int_mac a_signed must be one of true, false, 1, 0, not 'yes'"),
    (["generate", "int_mac", "-p", "a_width=4", "-p", "b_width=4", "--param=a_width=4"],
     "-p/--param a_width given more than once"),
    (["generate", "int_mac", "--preset", "small", "--preset=large"],
     "--preset given more than once"),
    (["generate", "int_mac", "--preset", "small", "--preset", "small"],
     "--preset given more than once"),
    (["generate", "int_mac", "--ports", "axis", "--ports", "native"],
     "--ports given more than once"),
    (["accuracy", "gelu", "--seed", "+3"],
     "argument --seed: must be a decimal integer, not '+3'"),
    (["accuracy", "gelu", "--seed", "\u0663"],
     "argument --seed: must be a decimal integer, not '\u0663'"),
    (["synth", "int_mac", "--preset", "small", "--preset", "large"],
     "--preset given more than once"),
    (["generate", "bitbrick", "-p", "width=4"],
     "unit bitbrick has no parameter 'width'; parameters are (none)"),
    (["synth", "int_mac", "--target", "xilinx", "--pnr"],
     "--pnr needs --target ice40 or ecp5, not xilinx"),
    (["synth", "int_mac", "--target", "asic"], None),  # argparse's wording varies
    (["frobnicate"], None),
    ([], None),
])
def test_errors_are_one_line_with_status_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("accelgen: error: ")
    if message is not None:
        assert err == f"accelgen: error: {message}\n"


@pytest.mark.parametrize("text", ["0x10", "1_6", "+16", " 16 ", "16 ", "\uff11\uff16",
                                  "\u0661\u0666", "0o20", "16.0"])
def test_generate_refuses_non_decimal_integers(capsys, tmp_path, text):
    status, out, err = run(capsys, "generate", "int_mac", "-p", f"a_width={text}",
                           "-o", str(tmp_path / "out"))
    assert status == 2 and out == ""
    assert err == ("accelgen: error: int_mac a_width must be a decimal integer (digits 0-9, "
                   f"optional leading '-'), not {text!r}\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text,value", [("1", True), ("0", False), ("true", True),
                                        ("false", False)])
def test_generate_accepts_the_listed_bool_words(capsys, tmp_path, text, value):
    status, out, _ = run(capsys, "generate", "int_mac", "-p", f"a_signed={text}",
                         "-o", str(tmp_path))
    assert status == 0
    manifest = json.loads(Path(out.split()[1]).read_text())
    assert manifest["params"]["a_signed"] is value


def _assert_one_error_line(status, out, err, message):
    assert (status, out) == (2, "")
    assert err == f"accelgen: error: {message}\n"


def test_generate_into_an_existing_file(capsys, tmp_path):
    target = tmp_path / "afile"
    target.write_text("mine\n")
    _assert_one_error_line(*run(capsys, "generate", "int_mac", "-o", str(target)),
                           f"cannot write {target}: File exists")
    assert target.read_text() == "mine\n"
    _assert_one_error_line(*run(capsys, "generate", "int_mac", "-o", str(target / "sub")),
                           f"cannot write {target / 'sub'}: Not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_generate_into_an_unwritable_place(capsys):
    status, out, err = run(capsys, "generate", "int_mac", "-o", "/proc/accelgen-nosuch/out")
    assert (status, out) == (2, "")
    assert err.startswith("accelgen: error: cannot write /proc/accelgen-nosuch")
    assert err.count("\n") == 1


@pytest.mark.parametrize("ports,blocked", [("native", ".core"), ("native", ".f"),
                                           ("axis", "_axis.v")])
def test_generate_writes_nothing_when_one_target_is_a_folder(capsys, tmp_path, ports, blocked):
    out_dir = tmp_path / "out"
    (out_dir / f"int_mac{blocked}").mkdir(parents=True)
    (out_dir / "int_mac.v").write_text("old\n")
    status, out, err = run(capsys, "generate", "int_mac", "--ports", ports, "-o", str(out_dir))
    _assert_one_error_line(status, out, err, f"cannot write {out_dir / f'int_mac{blocked}'}: "
                           "exists and is not a regular file")
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(["int_mac.v",
                                                                f"int_mac{blocked}"])
    assert (out_dir / "int_mac.v").read_text() == "old\n"


def test_generate_leaves_unchanged_files_alone(capsys, tmp_path):
    assert run(capsys, "generate", "int_mac", "-o", str(tmp_path))[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert sorted(before) == ["int_mac.core", "int_mac.f", "int_mac.json", "int_mac.v",
                              "int_mac.vlt"]
    (tmp_path / "int_mac.f").write_text("stale\n")
    assert run(capsys, "generate", "int_mac", "-o", str(tmp_path))[0] == 0
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert sorted(after) == sorted(before)
    assert all(after[n] == before[n] for n in before if n != "int_mac.f")
    assert (tmp_path / "int_mac.f").read_text() == "int_mac.vlt\nint_mac.v\n"


def test_synth_work_below_a_file(capsys, tmp_path):
    target = tmp_path / "afile"
    target.write_text("")
    status, out, err = run(capsys, "synth", "int_mac", "--work", str(target))
    _assert_one_error_line(status, out, err, f"cannot write {target}: File exists")
    status, out, err = run(capsys, "synth", "int_mac", "--work", str(target / "sub"))
    _assert_one_error_line(status, out, err, f"cannot write {target / 'sub'}: Not a directory")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "int_mac.generic").write_text("")  # synthesis' own folder is a file
    status, out, err = run(capsys, "synth", "int_mac", "--work", str(tmp_path / "w"))
    _assert_one_error_line(status, out, err,
                           f"cannot write {tmp_path / 'w' / 'int_mac.generic'}: "
                           "Not a directory")


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"],
                                  ["accuracy", "gelu", "--preset", "small", "--json"]])
def test_closed_stdout_exits_quietly(tmp_path, argv):
    """``accelgen ... | head -1``: no BrokenPipeError traceback, status 141."""
    proc = subprocess.Popen([sys.executable, "-m", "accelgen", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # before the interpreter has started: every write fails
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == b""


def test_invalid_choice_names_the_choices(capsys):
    status, _, err = run(capsys, "synth", "int_mac", "--target", "asic")
    assert status == 2 and "invalid choice: 'asic'" in err
    assert all(t in err for t in ("generic", "ice40", "ecp5", "xilinx"))


def test_missing_tool_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("YOSYS", str(tmp_path / "no-yosys"))
    status, _, err = run(capsys, "synth", "int_mac", "--work", str(tmp_path / "w"))
    assert status == 2
    assert err == f"accelgen: error: yosys not found at YOSYS='{tmp_path / 'no-yosys'}'\n"


def test_console_script_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "accelgen", "generate", "int_mac", "-p",
                           "pipeline=9", "-o", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("accelgen: error: int_mac pipeline must be an integer from 0 to 4, "
                           "not 9\n")
    assert "Traceback" not in proc.stderr


def test_hdl_check_reports_stale_folder(capsys, tmp_path):
    status, _, err = run(capsys, "hdl", "--check", "-o", str(tmp_path))
    assert status == 2 and "stale or missing" in err and err.count("\n") == 1
    status, out, _ = run(capsys, "hdl", "-o", str(tmp_path))
    assert status == 0
    for name in UNITS:
        assert name in out
    assert run(capsys, "hdl", "--check", "-o", str(tmp_path))[0] == 0


ROOT = Path(__file__).resolve().parents[1]


def test_catalogue_is_fresh(capsys):
    """docs/units.md and the README's unit table are what ``accelgen docs`` writes."""
    status, _, err = run(capsys, "docs", "--check", "--docs", str(ROOT / "docs"),
                         "--readme", str(ROOT / "README.md"))
    assert status == 0, err


def _docs_folder(tmp_path, pages):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text)
    return docs


def _notes_of_every_unit():
    return "# notes\n\n" + "".join(f"### `{name}`\n\ntext\n\n" for name in UNITS)


def test_docs_writes_catalogue_and_table(capsys, tmp_path):
    docs = _docs_folder(tmp_path, {"notes.md": _notes_of_every_unit()})
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\nold\n{END}\ntail\n")
    status, _, err = run(capsys, "docs", "--check", "--docs", str(docs), "--readme", str(readme))
    assert status == 2 and "stale" in err and err.count("\n") == 1
    assert not (docs / "units.md").exists()
    status, out, _ = run(capsys, "docs", "--docs", str(docs), "--readme", str(readme))
    assert status == 0 and "units.md" in out and "README.md" in out
    text = readme.read_text()
    assert text.startswith(f"# x\n{START}\n| unit |") and text.endswith(f"{END}\ntail\n")
    rows = [line for line in text.splitlines() if line.startswith("| [`")]
    assert [row.split("`")[1] for row in rows] == list(UNITS)
    assert f"(docs/notes.md#int_mac)" in text and "(docs/units.md#int_mac)" in text
    units = (docs / "units.md").read_text()
    headings = [line[4:-1] for line in units.splitlines() if line.startswith("## `")]
    assert headings == list(UNITS)
    assert "Design notes: [notes.md](notes.md#systolic_array)." in units
    assert run(capsys, "docs", "--check", "--docs", str(docs), "--readme", str(readme))[0] == 0
    (docs / "units.md").write_text(units.replace("int_mac", "int_mak"))
    status, _, err = run(capsys, "docs", "--check", "--docs", str(docs), "--readme", str(readme))
    assert status == 2 and err == (f"accelgen: error: the unit catalogue is stale in "
                                   f"{docs / 'units.md'}; run 'accelgen docs'\n")


@pytest.mark.parametrize("pages,message", [
    ({}, "no design notes for " + ", ".join(UNITS)),
    ({"a.md": "## `int_mac`\n"}, "no design notes for " + ", ".join(n for n in UNITS
                                                                     if n != "int_mac")),
    ({"a.md": "## `int_mac`\n", "b.md": None},
     "design notes on several pages: int_mac in a.md, b.md"),
])
def test_docs_requires_design_notes_of_every_unit(capsys, tmp_path, pages, message):
    """A unit without a heading `<unit>` on a docs page, or with one on two pages,
    stops ``accelgen docs`` before it writes anything."""
    pages = {name: (_notes_of_every_unit() if text is None else text)
             for name, text in pages.items()}
    docs = _docs_folder(tmp_path, pages)
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    for check in ([], ["--check"]):
        status, _, err = run(capsys, "docs", *check, "--docs", str(docs),
                             "--readme", str(readme))
        assert status == 2
        assert err.startswith(f"accelgen: error: {message}") and err.count("\n") == 1
    assert readme.read_text() == f"{START}\n{END}\n" and not (docs / "units.md").exists()


def test_generated_pages_hold_no_design_notes(tmp_path):
    """A heading in the generated pages (units.md, report.md) does not count."""
    docs = _docs_folder(tmp_path, {"units.md": _notes_of_every_unit(),
                                   "report.md": _notes_of_every_unit()})
    with pytest.raises(ValueError, match=r"^no design notes for bitbrick, "):
        design_pages(docs)


def test_docs_without_markers_or_readme_is_an_error(capsys, tmp_path):
    docs = _docs_folder(tmp_path, {"notes.md": _notes_of_every_unit()})
    (tmp_path / "plain.md").write_text("# no markers\n")
    for readme, message in ((tmp_path / "plain.md", "lacks the unit table markers"),
                            (tmp_path / "missing.md", "No such file")):
        status, _, err = run(capsys, "docs", "--docs", str(docs), "--readme", str(readme))
        assert status == 2 and message in err and err.count("\n") == 1
    status, _, err = run(capsys, "docs", "--docs", str(tmp_path / "nodocs"),
                         "--readme", str(tmp_path / "plain.md"))
    assert status == 2 and err == f"accelgen: error: {tmp_path / 'nodocs'} is not a folder\n"
    assert sorted(p.name for p in docs.iterdir()) == ["notes.md"]


# --- links ---------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")


def _anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation but ``-`` and ``_``
    dropped, spaces as ``-``."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(text):
    return {_anchor(line.lstrip("#")) for line in _FENCE.sub("", text).splitlines()
            if re.match(r"^#{1,6} ", line)}


def broken_links(path):
    """The relative links of the Markdown file ``path`` (outside code) whose file,
    or whose ``#anchor`` in a Markdown file, does not exist."""
    text = _CODE.sub("", _FENCE.sub("", path.read_text()))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        name, _, anchor = target.partition("#")
        dest = (path.parent / name).resolve() if name else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text()):
            broken.append(target)
    return broken


def test_broken_links_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.md").write_text("# Page\n## The `int_mac` unit\n")
    doc = tmp_path / "doc.md"
    doc.write_text("[a](sub/page.md) [b](sub/page.md#the-int_mac-unit) ![c](sub/)\n"
                   "[d](sub/none.md) [e](sub/page.md#nowhere) [f](#here) [g](#top)\n"
                   "[h](https://example.org/x) `[i](in/code.md)`\n"
                   "```\n[j](in/fence.md)\n```\n## Here\n")
    assert broken_links(doc) == ["sub/none.md", "sub/page.md#nowhere", "#top"]


@pytest.mark.parametrize("page", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_links_resolve(page):
    """Every relative link of the README and the docs pages names an existing
    file (and, into a Markdown page, an existing heading)."""
    assert broken_links(ROOT / page) == []


def test_synth_reads_the_emitted_verilog_and_names_the_device(capsys, tmp_path):
    """``accelgen synth`` synthesizes the ``.v`` users get (no RTLIL in its work
    folder) and says for which device; the table form prints the same notes."""
    status, out, err = run(capsys, "synth", "gelu", "--target", "ecp5", "--json",
                           "--work", str(tmp_path))
    assert (status, err) == (0, "")
    result = json.loads(out)
    assert result["device"] == "Lattice ECP5 (synth_ecp5); Fmax on LFE5U-25F-CABGA256"
    assert result["source"] == "gelu.v" and result["LUT"] > 0 and "fmax_mhz" not in result
    work = tmp_path / "gelu.ecp5"
    assert (work / "gelu.v").is_file() and not list(work.glob("*.il"))
    status, out, err = run(capsys, "synth", "gelu", "--target", "generic",
                           "--work", str(tmp_path))
    assert (status, err) == (0, "")
    assert out.splitlines()[-2:] == ["device: Yosys generic gates (no device)",
                                     "source: gelu.v"]


# --- generate pipeline (accelgen.compose) ------------------------------------------

_PIPELINE_TOML = """name = "cli_mac_gelu"
[[stages]]
unit = "int_mac"
params = { acc_width = 20 }
requant = { in_bits = 20, shift = 7, out_frac = 4 }
[[stages]]
unit = "gelu"
params = { in_frac = IN_FRAC }
"""


def _pipeline_spec(tmp_path, in_frac=4, suffix=".toml"):
    path = tmp_path / f"spec{suffix}"
    path.write_text(_PIPELINE_TOML.replace("IN_FRAC", str(in_frac)))
    return path


def test_generate_pipeline_writes_one_module(capsys, tmp_path):
    spec = _pipeline_spec(tmp_path)
    status, out, err = run(capsys, "generate", "pipeline", "--spec", str(spec),
                           "-o", str(tmp_path / "out"))
    assert (status, err) == (0, "")
    names = [Path(line).name for line in out.splitlines()]
    assert names == [f"cli_mac_gelu.{ext}" for ext in ("v", "json", "vlt", "core", "f")]
    manifest = json.loads((tmp_path / "out" / "cli_mac_gelu.json").read_text())
    assert manifest["unit"] == "pipeline"
    assert [s["unit"] for s in manifest["stages"]] == ["int_mac", "requant", "gelu"]
    verilog = (tmp_path / "out" / "cli_mac_gelu.v").read_text()
    assert re.findall(r"^module (\S+)\(", verilog, re.M) == ["cli_mac_gelu"]


@pytest.mark.parametrize("argv, message", [
    (["generate", "pipeline"], "generate pipeline needs --spec FILE (a .toml or .json "
                               "description, see docs/compose.md)"),
    (["generate", "gelu", "--spec", "x.toml"],
     "--spec applies to 'generate pipeline', not to unit gelu"),
    (["generate", "pipeline", "--spec", "SPEC", "-p", "a=1"],
     "generate pipeline takes its parameters from --spec, not -p/--preset"),
    (["generate", "pipeline", "--spec", "SPEC", "--preset", "small"],
     "generate pipeline takes its parameters from --spec, not -p/--preset"),
    (["generate", "pipeline", "--spec", "MISSING"], "pipeline spec MISSING does not exist"),
    (["generate", "pipeline", "--spec", "BAD"],
     "BAD: stage 1 (requant) output y is 8-bit signed at 2**-4, but stage 2 (gelu) "
     "input x takes 8-bit signed at 2**-5"),
])
def test_generate_pipeline_errors(capsys, tmp_path, argv, message):
    paths = {"SPEC": str(_pipeline_spec(tmp_path)), "MISSING": str(tmp_path / "none.toml"),
             "BAD": str(_pipeline_spec(tmp_path, in_frac=5, suffix=".bad.toml"))}
    argv = [paths.get(a, a) for a in argv]
    for key, value in paths.items():
        message = message.replace(key, value) if key in ("MISSING", "BAD") else message
    status, out, err = run(capsys, *argv, "-o", str(tmp_path / "out"))
    assert (status, out) == (2, "")
    assert err == f"accelgen: error: {message}\n"
    assert not (tmp_path / "out").exists()
