"""What bench/servers.py and bench/workers.py share: a free loopback port and the charts."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Panel:
    """One chart panel: a title, a y label, and two series of bars (label, one height per name)."""

    title: str
    ylabel: str
    series: Sequence[tuple[str, Sequence[float]]]


def grouped_bars(names: Sequence[str], panels: Sequence[Panel], path: Path) -> None:
    """Side-by-side panels of paired bars per name, written as a PNG (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    xs = range(len(names))
    for ax, panel in zip(axes[0], panels, strict=True):
        for offset, (label, heights) in zip((-0.2, 0.2), panel.series, strict=True):
            ax.bar([x + offset for x in xs], heights, width=0.4, label=label)
        ax.set_xticks(list(xs), names, rotation=30, ha="right")
        ax.set_ylabel(panel.ylabel)
        if panel.title:
            ax.set_title(panel.title)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
