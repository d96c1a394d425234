"""matplotlib, headless, imported only when an example runs."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the examples need matplotlib: pip install 'fastmlp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out_dir: str, name: str) -> str:
    """Write ``fig`` as ``out_dir/name`` (PNG) and close it; returns the path."""
    import os

    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
