import os

from hypothesis import HealthCheck, settings

# The suite must stay fast on 2 shared cores: modest example counts, no deadline (noisy timing).
# The same examples every run (a CI result does not depend on luck); new ones come from raising
# SPIKECODEC_EXAMPLES (random examples then), and from the fuzz campaigns (scripts/fuzz.py).
settings.register_profile(
    "spikecodec", max_examples=int(os.environ.get("SPIKECODEC_EXAMPLES", "60")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow], derandomize="SPIKECODEC_EXAMPLES" not in os.environ,
)
settings.load_profile("spikecodec")
