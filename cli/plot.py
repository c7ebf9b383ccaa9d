"""``inspect --plot``: firing rates and a spike raster in one PNG (matplotlib, imported only here)."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw(path: str, report: dict[str, Any], raster: np.ndarray, raster_label: str) -> None:
    """Write the figure to ``path`` (the caller makes that path a temporary one, renamed after)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rate = report["firing_rate"]
    unit = "spike rate" if report["bits"] == 1 else "mean count"
    panels = 2 + bool(rate["per_channel"])
    fig, axs = plt.subplots(panels, 1, figsize=(8, 2.6 * panels + 1), constrained_layout=True)
    fig.suptitle(f"{report['file']}: shape {tuple(report['shape'])}, overall {unit} {rate['overall']:.3f}")

    ax = axs[0]
    t = np.arange(len(rate["per_timestep"])) * rate.get("timestep_bin", 1)  # a long axis comes in bins
    ax.plot(t, rate["per_timestep"], marker="o" if len(t) <= 64 else None)
    ax.axhline(rate["overall"], color="grey", linestyle="--", linewidth=1, label="overall")
    ax.set_xlabel(f"{rate['time_axis']} (timestep)")
    ax.set_ylabel(unit)
    ax.set_title(f"{unit} per timestep")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right")

    if rate["per_channel"]:
        ax = axs[1]
        step = rate.get("channel_bin", 1)
        c = np.arange(len(rate["per_channel"])) * step
        ax.bar(c, rate["per_channel"], width=0.9 * step)
        ax.axhline(rate["overall"], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel(f"{rate['channel_axis']} (channel)")
        ax.set_ylabel(unit)
        ax.set_title(f"{unit} per channel")
        ax.set_xlim(-0.5 * step, len(c) * step - 0.5 * step)

    ax = axs[-1]
    image = ax.imshow(raster, aspect="auto", interpolation="nearest", cmap="Greys", origin="lower",
                      vmin=0, vmax=max(1, int(raster.max()) if raster.size else 1))
    ax.set_xlabel(f"{rate['time_axis']} (timestep)")
    ax.set_ylabel("neuron")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"spike raster ({raster_label})")
    if report["bits"] != 1:
        fig.colorbar(image, ax=ax, label="count")
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
