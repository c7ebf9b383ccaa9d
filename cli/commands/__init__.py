"""One module per subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from . import decode, encode, inspect, models, recover, validate

COMMANDS = (encode, decode, inspect, validate, recover, models)
