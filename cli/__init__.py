"""The spikecodec command line (installed as the `spikecodec` console script)."""
