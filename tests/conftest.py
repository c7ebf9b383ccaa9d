import os

from hypothesis import HealthCheck, settings

# The suite must stay fast on 2 shared cores: modest example counts, no deadline (noisy timing).
settings.register_profile(
    "spikecodec", max_examples=int(os.environ.get("SPIKECODEC_EXAMPLES", "60")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("spikecodec")
