"""The spec's own reader: checks every conformance vector of spec/manifest.json against
FORMAT.md as implemented in spec/refreader/ (standard library, numpy and zstandard only; nothing
of spikecodec).

    python spec/reference_reader.py [--vectors spec/]

prints one line per failing vector and a total; exits 0 only when every vector passes.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from refreader.vectors import cases  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", default=os.path.dirname(os.path.abspath(__file__)),
                        help="the directory holding manifest.json (default: spec/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every vector with its time")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts, failed = {}, 0
    for section, name, check in cases(args.vectors):
        t0 = time.perf_counter()
        try:
            failure = check()
        except Exception as error:  # a crash of the reader is a failure too
            failure = f"crashed: {type(error).__name__}: {error}"
        passed, total = counts.get(section, (0, 0))
        counts[section] = (passed + (failure is None), total + 1)
        if failure is not None:
            failed += 1
            print(f"FAIL {section}/{name}: {failure}")
        elif args.verbose:
            print(f"ok   {section}/{name} ({time.perf_counter() - t0:.2f} s)")
    summary = ", ".join(f"{s} {p}/{t}" for s, (p, t) in counts.items())
    print(f"{'FAILED' if failed else 'passed'}: {summary} in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
