"""Checking every vector of spec/manifest.json against this reader (spec/README.md)."""
import hashlib
import json
import os

import numpy as np

from .common import Problem
from .container import header_codecs, read, recover
from .messages import receive, receive_numbered
from .ctxmix import check_tables
from .priors import bind, load_prior

def _bytes(root, rel):
    with open(os.path.join(root, rel), "rb") as handle:
        return handle.read()


def _priors(root, rels):
    out = {}
    for rel in rels or []:
        prior = load_prior(_bytes(root, rel))
        out[prior.digest] = prior
    return out


def _same(got, want):
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"decoded {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}"
    if not np.array_equal(got, want):
        return f"decoded values differ at {int((got != want).sum())} of {got.size} elements"
    return None


def _rejects(data, priors, code, offset):
    try:
        read(data, priors)
    except Problem as problem:
        if problem.code != code or problem.offset != offset:
            return f"rejected with {problem.code} at {problem.offset}, expected {code} at {offset}: {problem.message}"
        return None
    return "accepted, expected a rejection"


def _codecs(entry, data):
    """The manifest's codecs: the ids the header names ([] when it cannot be parsed), or None."""
    got = header_codecs(data)
    if entry.get("codecs") != got:
        return f"the header names codecs {got}, the manifest says {entry.get('codecs')}"
    return None


def check_valid(root, entry):
    failure = _codecs(entry, _bytes(root, entry["spk"]))
    if failure:
        return failure
    priors = _priors(root, entry.get("priors"))
    try:
        got = read(_bytes(root, entry["spk"]), priors)
    except Problem as problem:
        return f"rejected: {problem}"
    return _same(got, np.load(os.path.join(root, entry["npy"])))


def check_invalid(root, entry):
    failure = _codecs(entry, _bytes(root, entry["spk"]))
    if failure:
        return failure
    return _rejects(_bytes(root, entry["spk"]), _priors(root, entry.get("priors")), entry["code"], entry["offset"])


def check_recover(root, entry):
    data = _bytes(root, entry["spk"])
    priors = _priors(root, entry.get("priors"))
    failure = _codecs(entry, data) or _rejects(data, priors, entry["code"], entry["offset"])
    if failure:
        return failure
    try:
        got = recover(data, priors)
    except Problem as problem:
        return f"recovery failed: {problem}"
    return _same(got, np.load(os.path.join(root, entry["npy"])))


def check_recover_complete(root, entry):
    """A valid vector recovered (FORMAT.md 10): it reads, and recovering it gives the same array."""
    data = _bytes(root, entry["spk"])
    priors = _priors(root, entry.get("priors"))
    want = np.load(os.path.join(root, entry["npy"]))
    failure = _codecs(entry, data)
    if failure:
        return failure
    for what, run in (("read", read), ("recovery", recover)):
        try:
            got = run(data, priors)
        except Problem as problem:
            return f"{what} failed: {problem}"
        failure = _same(got, want)
        if failure:
            return f"{what}: {failure}"
    return None


def check_prior(root, entry):
    blob = _bytes(root, entry["prior"])
    if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
        return "SHA-256 differs from the manifest's"
    try:
        prior = load_prior(blob)
        if prior.codec != entry["codec"] or prior.geometry != entry["geometry"]:
            return f"codec {prior.codec} geometry {prior.geometry} differ from the manifest's"
        bind(prior, prior.codec, prior.geometry)
    except Problem as problem:
        return f"refused: {problem}"
    return None


def check_invalid_prior(root, entry):
    blob = _bytes(root, entry["prior"])
    try:
        prior = load_prior(blob)
    except Problem as problem:
        if entry["stage"] != "load":
            return f"refused on load ({problem}), expected at bind"
        if problem.code != entry["code"] or problem.offset != entry["offset"]:
            return f"refused with {problem.code} at {problem.offset}, expected {entry['code']} at {entry['offset']}"
        return None
    if entry["stage"] == "load":
        return "loaded, expected a refusal"
    try:
        bind(prior, prior.codec, prior.geometry)
    except Problem as problem:
        return None if problem.code == "prior-mismatch" else f"refused with {problem.code}, expected prior-mismatch"
    return "bound, expected a refusal"


def check_tables_entry(root, name, entry):
    bad = check_tables(root)
    return f"{name}: formula and listed table differ" if name in bad else None


def split_messages(blob):
    """The messages of a ``.msgs`` file: each a u32 little-endian length, then its bytes."""
    out, pos = [], 0
    while pos < len(blob):
        n = int.from_bytes(blob[pos:pos + 4], "little")
        out.append(blob[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def check_messages(root, entry):
    messages = split_messages(_bytes(root, entry["msgs"]))
    failure = _codecs(entry, messages[0])  # the header message's
    if failure:
        return failure
    if "records" in entry:  # numbered messages (FORMAT.md 11)
        got, problem = receive_numbered(messages, entry["end"], entry["records"], _priors(root, entry.get("priors")))
    else:
        got, problem = receive(messages, entry["end"], _priors(root, entry.get("priors")))
    if entry["code"] is None and problem is not None:
        return f"refused with {problem.code} at {problem.offset}: {problem.message}"
    if entry["code"] is not None:
        if problem is None:
            return f"received, expected {entry['code']} at {entry['offset']}"
        if problem.code != entry["code"] or problem.offset != entry["offset"]:
            return (f"refused with {problem.code} at {problem.offset}, expected {entry['code']} at "
                    f"{entry['offset']}: {problem.message}")
    if got is None:
        return None if "npy" not in entry else "no header, but rows expected"
    return _same(got, np.load(os.path.join(root, entry["npy"])))


CHECKS = {
    "valid": check_valid,
    "invalid": check_invalid,
    "recover": check_recover,
    "recover_complete": check_recover_complete,
    "priors": check_prior,
    "invalid_priors": check_invalid_prior,
    "messages": check_messages,
}


def cases(root):
    """(section, name, check) for every vector of the manifest, check() -> None or a failure."""
    with open(os.path.join(root, "manifest.json")) as handle:
        manifest = json.load(handle)
    out = []
    for section, check in CHECKS.items():
        for name, entry in manifest.get(section, {}).items():
            out.append((section, name, lambda c=check, e=entry: c(root, e)))
    for name, entry in manifest.get("tables", {}).items():
        out.append(("tables", name, lambda n=name, e=entry: check_tables_entry(root, n, e)))
    return out
