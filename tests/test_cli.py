# SPDX-License-Identifier: BSD-2-Clause
"""The command-line contract: output formats, reproducibility, one-line errors."""

import json
import subprocess
import sys

import pytest

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


def test_list_json_schema(capsys):
    status, out, _ = run(capsys, "list", "--json")
    assert status == 0
    units = json.loads(out)
    assert [u["name"] for u in units] == list(UNITS)
    for u in units:
        assert set(u) == {"name", "summary", "params"}
        for spec in u["params"].values():
            assert set(spec) == {"default", "type", "doc"}
            assert spec["type"] in ("int", "bool", "str")
    mac = units[list(UNITS).index("int_mac")]["params"]
    assert mac["acc_width"] == {"default": 32, "type": "int",
                                "doc": "accumulator and result width (a_width + b_width..64)"}


def test_generate_writes_verilog_and_manifest(capsys, tmp_path):
    status, out, _ = run(capsys, "generate", "int_mac", "-p", "acc_width=24",
                         "-p", "a_signed=false", "-o", str(tmp_path))
    assert status == 0
    module = "int_mac__acc24_noas"
    assert out.split() == [str(tmp_path / f"{module}{suffix}")
                           for suffix in (".v", ".json", ".core", ".f")]
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
     "int_mac acc_width must be an integer, not 'wide'"),
    (["generate", "int_mac", "-p", "depth=3"],
     "unit int_mac has no parameter 'depth'; parameters are a_width, b_width, acc_width, "
     "a_signed, b_signed, pipeline"),
    (["generate", "int_mac", "-p", "acc_width"], "-p expects NAME=VALUE, not 'acc_width'"),
    (["generate", "int_mac", "-p", "b_signed=maybe"],
     "int_mac b_signed must be true/false/1/0, not 'maybe'"),
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


def test_readme_catalogue_is_fresh(capsys):
    from pathlib import Path
    readme = Path(__file__).resolve().parents[1] / "README.md"
    status, _, err = run(capsys, "docs", "--check", "--readme", str(readme))
    assert status == 0, err


def test_docs_check_reports_stale(capsys, tmp_path):
    from accelgen.app.catalogue import START, END
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\nold\n{END}\n")
    status, _, err = run(capsys, "docs", "--check", "--readme", str(readme))
    assert status == 2 and "stale" in err
    assert run(capsys, "docs", "--readme", str(readme))[0] == 0
    assert "int_mac" in readme.read_text()
    assert run(capsys, "docs", "--check", "--readme", str(readme))[0] == 0
