"""One module per subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from . import decode, encode, inspect, recover, validate

COMMANDS = (encode, decode, inspect, validate, recover)
