"""The spec's own reader (spec/reference_reader.py, spec/refreader/) against every conformance
vector of spec/manifest.json: an implementation written from FORMAT.md alone, so a vector that
only the library can read, or a rule the text does not state, fails here."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = Path(__file__).resolve().parents[2] / "spec"
sys.path.insert(0, str(SPEC))

from refreader.vectors import cases  # noqa: E402

CASES = cases(str(SPEC))


@pytest.mark.parametrize("check", [c for _, _, c in CASES], ids=[f"{s}/{n}" for s, n, _ in CASES])
def test_vector(check):
    failure = check()
    assert failure is None, failure


def test_manifest_sections_are_all_checked():
    sections = {s for s, _, _ in CASES}
    assert {"valid", "invalid", "recover", "priors", "invalid_priors", "messages", "tables"} <= sections


def _one_vector_per_kind(manifest: dict) -> dict:
    """The manifest cut to one vector per section and codecs (or prior codec) named: every
    checker and every codec's module of the reader still runs, at a fraction of the vectors
    (test_vector above checks each one)."""
    out = {}
    for section, entries in manifest.items():
        if not isinstance(entries, dict) or section == "tables":
            out[section] = entries
            continue
        kept, seen = {}, set()
        for name, entry in entries.items():
            kind = (tuple(entry.get("codecs", ())), entry.get("codec"), entry.get("stage"))
            if kind not in seen:
                seen.add(kind)
                kept[name] = entry
        out[section] = kept
    return out


def test_command_line_imports_nothing_of_the_library(tmp_path):
    """The command line passes on the manifest and never imports spikecodec (nor cli)."""
    import json

    manifest = json.loads((SPEC / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(_one_vector_per_kind(manifest)))
    for folder in ("vectors", "tables"):
        (tmp_path / folder).symlink_to(SPEC / folder)
    code = (
        "import runpy, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('spikecodec', 'cli'):\n"
        "            raise ImportError('the spec reader imported ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.argv = ['reference_reader.py', '--vectors', {str(tmp_path)!r}]\n"
        f"runpy.run_path({str(SPEC / 'reference_reader.py')!r}, run_name='__main__')\n"
    )
    env = dict(os.environ, PYTHONPATH="")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(SPEC.parent), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("passed:"), done.stdout
    for section in ("valid", "invalid", "priors", "invalid_priors", "recover", "messages", "tables"):
        assert f" {section} " in f" {summary} ", summary  # every checker ran


def test_every_rejection_in_the_manifest_names_its_code():
    """An outside reader must report the manifest's code and offset: every invalid and recovery
    vector, and every broken prior file refused on load, gives both."""
    import json

    manifest = json.loads((SPEC / "manifest.json").read_text())
    for section in ("invalid", "recover"):
        for name, entry in manifest[section].items():
            assert isinstance(entry.get("code"), str) and "offset" in entry, (section, name)
    for name, entry in manifest["messages"].items():  # a receiver's first problem, or none
        assert (entry["code"] is None) == (entry["offset"] is None), name
    for section in ("valid", "invalid", "recover", "messages"):  # the codecs its header names (spec/README.md)
        for name, entry in manifest[section].items():
            assert isinstance(entry.get("codecs"), list) and all(isinstance(c, str) for c in entry["codecs"]), (section, name)
    for name, entry in manifest["invalid_priors"].items():
        if entry["stage"] == "load":
            assert isinstance(entry.get("code"), str) and isinstance(entry["offset"], int), name
