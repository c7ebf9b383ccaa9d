"""Entry point of the ``spikecodec`` command: parse arguments, dispatch, turn failures into one line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import typing
from typing import Sequence

import spikecodec

from .atomic import interrupting_signal, terminate_cleanly
from .commands import COMMANDS
from .errors import EXPECTED, CliError, describe, out_of_memory, printable

EPILOG = """\
examples:
  spikecodec encode spikes.npy -o spikes.spk --meta model=resnet18 split=3
  spikecodec inspect spikes.spk
  spikecodec validate spikes.spk
  spikecodec decode spikes.spk -o steps01.npy --select t=0:2
  cat spikes.npy | spikecodec encode - -o - | spikecodec decode - -o copy.npy
  spikecodec edge --images t10k-images-idx3-ubyte.gz -o feats.spk        # a model's edge half
  spikecodec cloud feats.spk -o preds.npy --labels t10k-labels-idx1-ubyte.gz  # its cloud half
  spikecodec edge --images x.npy -o - | spikecodec cloud - -o preds.npy      # image by image
  spikecodec serve --port 8000 --token-file tokens.txt                      # the cloud half as a service
  spikecodec edge --images x.npy --connect host:8000 --token-file tokens.txt -o preds.npy
  spikecodec train-prior train.spk -o my.prior
  spikecodec models

Run `spikecodec COMMAND --help` for each command's options and more examples.
"""


def version_text() -> str:
    major, minor = spikecodec.FORMAT_VERSION
    codecs = ", ".join(sorted(spikecodec.registered_codecs()))
    return f"spikecodec {spikecodec.__version__} (container format {major}.{minor}; codecs: {codecs})"


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors as one ``spikecodec: error:`` line like every other error
    (argparse prints the whole usage first), exit status 2. Subcommands' parsers are of this
    class too (add_subparsers takes the parent's class)."""

    def error(self, message: str) -> "typing.NoReturn":
        command = self.prog.removeprefix("spikecodec").strip()
        where = f"{command}: " if command else ""
        seen = getattr(self, "_words", ())
        greedy = [a.option_strings[0] for a in self._actions
                  if a.nargs in ("+", "*") and any(o in seen for o in a.option_strings)]
        if greedy and message.startswith("the following arguments are required"):
            # `encode -o x.spk --meta a=1 spikes.npy`, in the usage line's order: --meta took the input too
            message += f" ({', '.join(greedy)} takes every word after it: put the input before it, or end it with --)"
        help_of = self.prog
        if not command and message.startswith("unrecognized arguments"):  # argparse reports them at the top
            commands = {name for a in self._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices}
            named = [w for w in getattr(self, "_words", ()) if w in commands]
            help_of = f"{self.prog} {named[0]}" if named else self.prog
        self.exit(2, f"spikecodec: error: {where}{message} (see `{help_of} --help`)\n")

    def parse_known_args(self, args: typing.Any = None, namespace: typing.Any = None) -> typing.Any:
        self._words = list(sys.argv[1:] if args is None else args)  # for error(): which options were given
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="spikecodec",
        description="Write, ship, look at and check spike-feature files (.spk) of split spiking networks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def error(message: str) -> None:
    print(f"spikecodec: error: {printable(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 usage, 3 a limit, 128 + the
    signal that interrupted it: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    if sys.stderr is None:  # closed (2>&-): print(file=None) writes to stdout, which may be the data (-o -)
        sys.stderr = open(os.devnull, "w")
    args = build_parser().parse_args(argv)
    if sys.stdout is None and getattr(args, "report_on_stdout", False) and not getattr(args, "quiet", False):
        # (>&-): print() would drop the report and exit 0; -q asks for the exit status above all
        error("standard output is closed: the report has nowhere to go")
        return 1
    if getattr(args, "own_signals", False):  # `serve` drains on SIGTERM itself instead of unwinding at once
        return _run(args)
    with terminate_cleanly(last_words=lambda signum: f"spikecodec: error: {signal_words(signum)}\n"):
        return _run(args)


def signal_words(signum: int) -> str:
    """What the command says when a signal ends it."""
    return {signal.SIGTERM: "terminated (SIGTERM)", signal.SIGHUP: "hung up (SIGHUP)"}.get(signum, "interrupted")


def _run(args: argparse.Namespace) -> int:
    try:
        return args.run(args)
    except BrokenPipeError:
        return _reader_gone()
    except CliError as exc:
        if isinstance(exc.__cause__, BrokenPipeError):  # a command that names its output's errors (encode, edge, recover)
            return _reader_gone()
        error(str(exc))
        return exc.code
    except EXPECTED as exc:  # expected failures not attributed to a file by the command
        error(describe(exc))
        return 1
    except MemoryError as exc:  # an allocation outside any file's block (see errors.about)
        error(out_of_memory(exc))
        return 1
    except KeyboardInterrupt:
        signum = interrupting_signal()
        error(signal_words(signum))
        return 128 + signum  # as a shell reports a process a signal ended: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP


def _reader_gone() -> int:
    """The reader of our stdout (or FIFO) went away (`spikecodec decode x.spk -o - | head`): stop
    quietly, and point stdout at /dev/null so that the interpreter's final flush does not complain."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(main())
