"""``spikecodec models``: the shipped reference models, with figures measured on their test set."""

from __future__ import annotations

import argparse
import json

HELP = "list the shipped reference models (accuracy, split, spike shape, bytes per image)"
EPILOG = """\
examples:
  spikecodec models
  spikecodec models --json | jq '.[0].end_to_end.file_bytes_per_image'

Accuracy is top-1 on the model's whole test set through the command line (`edge`, then `cloud`);
bytes/image is the size of that spike stream (the defaults: one image per message, ctxmix from
the model's shipped prior) over the number of images. Both are measured by
scripts/models/measure_reference.py and stored in the model's JSON beside its weights (a model
not measured that way shows the in-process test accuracy its export recorded, and '-' for
bytes). * marks the default model; "prior" names the model's shipped prior.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print every model's stored metadata as JSON")
    p.set_defaults(run=run, report_on_stdout=True)  # its report is what it makes: a closed stdout is an error


def _shape(shape: list) -> str:
    return "x".join(str(s) for s in shape)


def run(args: argparse.Namespace) -> int:
    from spikecodec.models.reference import DEFAULT_REFERENCE, list_references

    models = list_references()
    if args.json:
        print(json.dumps([{**m, "default": m["name"] == DEFAULT_REFERENCE} for m in models], indent=2))
        return 0
    rows = [("model", "dataset", "accuracy", "split", "spikes (T,N,C,H,W)", "bytes/image", "raw bits/image", "prior")]
    for m in models:
        e2e = m.get("end_to_end", {})
        rows.append(
            (
                ("* " if m["name"] == DEFAULT_REFERENCE else "  ") + m["name"],
                m.get("dataset", "-"),
                f"{100 * e2e.get('accuracy', m.get('test_accuracy')):.2f}%" if "accuracy" in e2e or "test_accuracy" in m else "-",
                m.get("split", "-"),
                _shape(m["spike_shape"]) if "spike_shape" in m else "-",
                f"{e2e['file_bytes_per_image']:.1f}" if "file_bytes_per_image" in e2e else "-",
                str(m.get("code_bits_per_image", "-")),
                m["prior"]["digest"][:12] if "prior" in m else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0
