import os
from pathlib import Path

import pytest

from spikecodec.prior import PRIOR_PATH_ENV

PRIORS = Path(__file__).resolve().parents[2] / "spec" / "vectors" / "priors"


@pytest.fixture(autouse=True, scope="module")
def vector_priors_are_found():
    """The conformance vectors that name a prior decode here (so mutations of them reach their
    payloads): the spec's prior folder is on the search path for the robustness tests."""
    before = os.environ.get(PRIOR_PATH_ENV)
    os.environ[PRIOR_PATH_ENV] = str(PRIORS)
    yield
    if before is None:
        os.environ.pop(PRIOR_PATH_ENV, None)
    else:
        os.environ[PRIOR_PATH_ENV] = before
