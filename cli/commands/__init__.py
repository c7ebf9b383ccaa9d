"""One module per subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from . import cloud, decode, edge, encode, inspect, models, recover, serve, train_prior, validate

COMMANDS = (encode, decode, inspect, validate, recover, edge, cloud, serve, train_prior, models)
