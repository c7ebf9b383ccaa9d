"""Stable problem codes (spikecodec/problem_codes.py, FORMAT.md appendix A): every check names
the rule it enforces, the table is the one place they are listed, and the conformance vectors,
the validator and ``spikecodec validate --json`` report them."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec.container.validate import Problem, ValidationReport
from spikecodec.errors import FormatError, LimitError
from spikecodec.problem_codes import CODES, RETIRED, SEVERITIES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "spikecodec"
SPEC = ROOT / "spec"
MANIFEST = json.loads((SPEC / "manifest.json").read_text())
CODE_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# Raise sites that do not pass codes yet (none: the integrations' re-raises keep the wrapped
# error's code).
NOT_YET_CODED: set[Path] = set()


def _sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not any(d in p.parents for d in NOT_YET_CODED)]


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _raise_sites() -> tuple[list[str], set[str]]:
    """(calls of FormatError/LimitError without a ``code=``, every string a ``code=`` names)."""
    missing: list[str] = []
    used: set[str] = set()
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                # a codec's codes as class attributes (``end_code = "mix-end"``), raised as code=self.end_code
                if any(isinstance(t, ast.Name) and t.id.endswith("_code") for t in node.targets):
                    used.add(node.value.value)
            if not isinstance(node, ast.Call):
                continue
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            if code is not None:  # the code of a raise site, or of a helper (fail(msg, code=...))
                used |= {c.value for c in ast.walk(code) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            if _name(node.func) in ("FormatError", "LimitError") and code is None:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return missing, used


def test_every_raise_site_passes_a_code_from_the_table():
    missing, used = _raise_sites()
    assert not missing, f"FormatError/LimitError raised without code=: {missing}"
    assert used - set(CODES) == set(), "codes missing from spikecodec/problem_codes.py"
    assert set(CODES) - used == RETIRED, "codes in the table that no check raises"
    assert not used & RETIRED, "a retired code is raised"


def test_codes_are_kebab_case_with_a_section_and_a_rule():
    for code, (section, rule) in CODES.items():
        assert CODE_PATTERN.match(code), code
        assert re.fullmatch(r"\d+(\.\d+)*", section), (code, section)
        assert rule and "\n" not in rule and "|" not in rule, code


def test_format_md_lists_the_code_table():
    text = (ROOT / "FORMAT.md").read_text()
    appendix = text[text.index("## Appendix A. Problem codes"):]
    rows = re.findall(r"^\| `([^`]+)` \| ([\d.]+) \| (.+) \|$", appendix, re.M)
    assert [(c, s, r) for c, s, r in rows] == [(c, e.section, e.rule) for c, e in CODES.items()]
    for code, entry in CODES.items():  # the section a code names exists
        assert re.search(rf"^#+ {re.escape(entry.section)}[. ]", text, re.M), (code, entry.section)


@pytest.mark.parametrize("name", sorted(MANIFEST["invalid"]))
def test_invalid_vector_reports_its_code(name):
    entry = MANIFEST["invalid"][name]
    assert entry.get("code") in CODES, f"spec/generate.py: INVALID_CODES needs a code for {name!r}"
    data = (SPEC / entry["spk"]).read_bytes()
    report = spikecodec.validate(data, priors=[SPEC / p for p in entry.get("priors", [])])
    found = [(p.code, p.section, p.severity) for p in report.problems
             if p.offset == entry["offset"] and entry["problem"] in p.message]
    assert (entry["code"], CODES[entry["code"]].section, "error") in found, report.problems


# Codes of appendix A that no vector carries, and why: the others each have an invalid, recover or
# message vector (or a broken prior file refused on load) that reports them first.
NOT_IN_VECTORS = {
    "bytes-after-trailer": "a validator MAY report it; the last 24 bytes fail as the trailer first (trailing-garbage)",
    "axis-count": "never reported for a file: the layout reads exactly r names",
    "chunk-extent": "recovery's walk; a read with the index reports index-record-mismatch",
    "payload-undecodable": "an implementation's safety net; no conforming reader of a vector reports it",
    "decoded-shape": "every codec of section 9 finds its problem first (raw: packed-size)",
    "zstd-content-size": "retired",
    "stream-unfinished": "a sequential reader whose input ended",
    "integration-framing": "an integration's rule",
    "limit-bytes": "a reader's limit",
    "limit-work": "a reader's limit",
    "numpy-shape": "an implementation limit",
    "limit-memory": "an implementation limit",
    "minor-too-low": "a warning: readers accept the file",
}


def test_every_code_a_reader_reports_has_a_vector():
    carried = {e["code"] for section in ("invalid", "recover", "messages") for e in MANIFEST[section].values()}
    carried |= {e["code"] for e in MANIFEST["invalid_priors"].values() if e["stage"] == "load"}
    assert sorted(c for c in CODES if c not in carried and c not in NOT_IN_VECTORS) == []
    assert sorted(c for c in NOT_IN_VECTORS if c in carried) == []  # a code given a vector leaves the list


@pytest.mark.parametrize("name", sorted(n for n, e in MANIFEST["invalid_priors"].items() if e["stage"] == "load"))
def test_invalid_prior_reports_its_code(name):
    entry = MANIFEST["invalid_priors"][name]
    assert entry.get("code") in CODES, name
    with pytest.raises(FormatError) as info:
        spikecodec.load_prior(SPEC / entry["prior"])
    assert (info.value.code, info.value.offset) == (entry["code"], entry["offset"])


def test_errors_carry_code_section_and_severity():
    err = FormatError("header CRC mismatch", 97, code="header-crc")
    assert (err.code, err.section, err.severity, str(err)) == ("header-crc", "3.2", "error", "at byte 97: header CRC mismatch")
    located = err.located("x.spk")
    assert (type(located), located.code, located.section, str(located)) == (
        FormatError, "header-crc", "3.2", "x.spk: at byte 97: header CRC mismatch")
    limit = LimitError("too big", 5)
    assert (limit.code, limit.section, limit.severity) == ("limit-bytes", "12", "limit")
    work = LimitError("too much", 5, code="limit-work").located("y.spk")
    assert (type(work), work.code, work.severity) == (LimitError, "limit-work", "limit")
    old = FormatError("legacy", 3, "z.spk")  # the old signature still works, without a code
    assert (old.code, old.section, str(old)) == (None, None, "z.spk: at byte 3: legacy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert FormatError("x", code="no-such-code").section is None
    assert [w.category for w in caught] == [RuntimeWarning]


def test_problem_severities():
    assert Problem(3, "m").severity == "error" and Problem(3, "m", True).severity == "limit"
    assert set(SEVERITIES) == {"error", "limit", "warning"}
    warned = ValidationReport("f", [Problem(None, "remark", severity="warning")])
    assert warned.ok and warned.conforming_so_far
    limited = ValidationReport("f", [Problem.of(LimitError("big", 7, code="limit-work"))])
    assert not limited.ok and limited.conforming_so_far
    assert limited.to_dict()["problems"] == [
        {"offset": 7, "code": "limit-work", "section": "12", "severity": "limit", "message": "big", "limit": True}]
    with pytest.raises(ValueError):
        Problem(1, "m", severity="fatal")


def test_validate_reports_codes_for_a_limit_and_a_damaged_chunk():
    data = spikecodec.encode(np.ones((4, 8, 8), np.uint8), chunk=1)
    report = spikecodec.validate(data, max_bytes=16)
    assert [(p.code, p.severity) for p in report.problems] == [("limit-bytes", "limit")]
    with spikecodec.open(data) as r:
        e = r.entries[1]
    bad = bytearray(data)
    bad[e.offset + e.size - 1] ^= 1
    report = spikecodec.validate(bytes(bad))
    assert [(p.code, p.section, p.offset, p.severity) for p in report.problems] == [("chunk-crc", "5.1", e.offset, "error")]


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spikecodec", *map(str, args)], capture_output=True, timeout=120)


def test_cli_validate_json_prints_codes(tmp_path: Path):
    data = spikecodec.encode(np.ones((4, 8, 8), np.uint8), chunk=1)
    good, bad = tmp_path / "good.spk", tmp_path / "bad.spk"
    good.write_bytes(data)
    bad.write_bytes(data[:10] + b"\x07" + data[11:])  # the reserved preamble field
    proc = _cli("validate", "--json", good, bad)
    assert proc.returncode == 1, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert files[0]["problems"] == []
    assert [(p["code"], p["section"], p["offset"], p["severity"]) for p in files[1]["problems"]] == [
        ("preamble-reserved", "3.1", 10, "error")]
    proc = _cli("validate", "--json", "--max-bytes", 16, good)
    assert proc.returncode == 3, proc.stderr  # a limit, not non-conformance
    problems = json.loads(proc.stdout)["files"][0]["problems"]
    assert [(p["code"], p["severity"]) for p in problems] == [("limit-bytes", "limit")]


def _classic_file_stating(spike_count: int, *, damage_payload: bool) -> bytes:
    """A one-chunk classic order0 file whose record and index both state ``spike_count``
    (CRCs sealed), its payload whole or with its last word cleared (a rANS end the codec rejects)."""
    sys.path.insert(0, str(ROOT / "tests" / "robustness"))
    from hostile import parse, seal, set_field

    data = spikecodec.encode(np.ones((3, 5), np.uint8), codec="order0", chunk=(3, 5))
    p = parse(data)
    (off, size), = p.chunks
    data = set_field(data, off + 8, 8, spike_count)
    if damage_payload:
        data = set_field(data, off + size - 8, 4, 0)  # the payload's last word: 0 is no final rANS word
    return seal(data)


@pytest.mark.parametrize("damage_payload", [False, True])
@pytest.mark.parametrize("spike_count", [16, 1 << 63, (1 << 64) - 1])
def test_a_spike_count_no_chunk_holds_is_found_by_decoding_as_the_spec_orders(spike_count, damage_payload):
    # FORMAT.md 10 step 7: the payload's decoding (the codec's own rejections) before the spike
    # count. The library checked a count above the chunk's 15 elements before decoding, and read
    # one of 2**63 or more from the index as "not stated" (index-record-mismatch, "None").
    sys.path.insert(0, str(SPEC))
    from refreader.common import Problem as RefProblem
    from refreader.container import read as reference_read

    data = _classic_file_stating(spike_count, damage_payload=damage_payload)
    with pytest.raises(RefProblem) as ref:
        reference_read(data)
    want = "rans-final-state" if damage_payload else "spike-count"
    assert ref.value.code == want
    report = spikecodec.validate(data)
    assert [(q.code, q.offset) for q in report.problems[:1]] == [(want, ref.value.offset)]
    with pytest.raises(FormatError) as got:
        spikecodec.decode(data)
    assert got.value.code == want and "None" not in str(got.value)
    with spikecodec.open(data) as r:  # the index's count reads back as stated
        assert r.entries[0].spike_count == spike_count


def test_recovering_an_array_of_no_chunks_keeps_no_rows_as_the_spec_says():
    # FORMAT.md 10, recovery: the recovered array's axis 0 is the sum of the kept rows' heights
    # (0 here: an array with an empty axis has no chunks). The library gave the header's shape[0].
    sys.path.insert(0, str(SPEC))
    from refreader.container import recover as reference_recover

    whole = spikecodec.encode(np.zeros((5, 0, 3), np.uint8), codec="raw", chunk=(1, 1))  # axis 1 chunked: G = 0
    cut = whole[:-5]  # no trailer
    with spikecodec.open(cut, recover=True) as r:
        assert r.recovered and r.shape == (0, 0, 3) == reference_recover(cut).shape
    with spikecodec.open(whole) as r:
        assert r.shape == (5, 0, 3)  # read whole, the header's length stands
