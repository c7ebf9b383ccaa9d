"""``python -m spikecodec``: the command line (the same as the ``spikecodec`` console script)."""

import sys

from spikecodec_cli.main import main

if __name__ == "__main__":
    sys.exit(main())
