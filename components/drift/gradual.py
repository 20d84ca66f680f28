"""Gradual drift: a two-sided CUSUM over span-to-span shifts of each numeric
feature's mean, in units of the reference span's standard deviation.

A slow creep (each span a little higher than the last) never crosses a
per-span threshold against the previous span, but the cumulative excess over
the allowance does cross the CUSUM threshold. The sequence starts at the span
the serving model was trained on, so the finding reads "since the model was
trained, X has crept up". No TFX here.
"""

from typing import Dict, List, Mapping, Sequence


def cusum(shifts: Sequence[float], allowance: float, threshold: float) -> dict:
    """Two-sided CUSUM; returns the final statistics and the first alarm index."""
    up = down = 0.0
    alarm_at, direction = None, None
    peak_up = peak_down = 0.0
    for i, z in enumerate(shifts):
        up = max(0.0, up + z - allowance)
        down = max(0.0, down - z - allowance)
        peak_up, peak_down = max(peak_up, up), max(peak_down, down)
        if alarm_at is None and (up >= threshold or down >= threshold):
            alarm_at, direction = i, "up" if up >= threshold else "down"
    return {
        "up": up,
        "down": down,
        "peak_up": peak_up,
        "peak_down": peak_down,
        "alarm_at": alarm_at,
        "direction": direction,
    }


def detect(history: List[Mapping], features: Sequence[str], cfg) -> List[Dict]:
    """Gradual-drift findings over ``history`` (oldest first; each item
    ``{"span": n, "numeric": {feature: {"mean": m, "std": s}}}``).

    Returns one finding per alarmed feature: feature, direction, the CUSUM
    statistic, the spans covered and the total shift in reference std units.
    """
    if len(history) < cfg.min_spans:
        return []
    findings = []
    for name in features:
        points = [(h["span"], h["numeric"][name]) for h in history if name in h.get("numeric", {})]
        if len(points) < cfg.min_spans:
            continue
        ref_std = points[0][1]["std"] or 1.0
        shifts = [
            (b["mean"] - a["mean"]) / ref_std for (_, a), (_, b) in zip(points, points[1:], strict=False)
        ]
        res = cusum(shifts, cfg.allowance, cfg.threshold)
        if res["alarm_at"] is not None:
            findings.append(
                {
                    "feature": name,
                    "direction": res["direction"],
                    "cusum": round(max(res["peak_up"], res["peak_down"]), 4),
                    "threshold": cfg.threshold,
                    "spans": [s for s, _ in points],
                    "alarm_span": points[res["alarm_at"] + 1][0],
                    "total_shift_std": round(sum(shifts), 4),
                    "max_step_shift_std": round(max(abs(z) for z in shifts), 4),
                }
            )
    return findings
