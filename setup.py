"""Package discovery only; all metadata lives in pyproject.toml.

The command line's source sits in the top-level folder `cli/` (the project's layout) and installs as
the package `spikecodec_cli`, a name that cannot collide with other distributions.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["spikecodec", "spikecodec.*"])
    + ["spikecodec_cli" + name[len("cli"):] for name in find_packages(include=["cli", "cli.*"])],
    package_dir={"spikecodec_cli": "cli"},
)
