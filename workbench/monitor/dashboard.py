"""The monitor dashboard: a 2×2 figure of windowed traffic metrics (from :func:`workbench.monitor.windowed`)."""

from __future__ import annotations

import pandas as pd


def dashboard(win: pd.DataFrame):
    """Requests and errors, latency p50/p95 and TTFT p95, tokens per hour, sampled groundedness and harm."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    win[["request_rate"]].plot(ax=ax[0, 0], marker="o", title="requests per minute")
    win[["error_rate"]].plot(ax=ax[0, 0].twinx(), color="tab:red", marker="x", legend=False)
    win[["latency_p50", "latency_p95", "ttft_p95"]].plot(ax=ax[0, 1], marker="o", title="latency (s)")
    win[["tokens_per_hour"]].plot(ax=ax[1, 0], marker="o", title="tokens per hour")
    cols = [c for c in ("groundedness", "harm_rate") if c in win]
    if cols:
        win[cols].plot(ax=ax[1, 1], marker="o", ylim=(-0.05, 1.05), title="groundedness and harm (sample)")
    else:
        ax[1, 1].set_axis_off()
    fig.tight_layout()
    return fig
