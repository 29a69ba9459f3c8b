"""The one grammar for angles on the command line and in configs (``rotate``, ``augment``, ``eval``):
a comma-separated list of numbers and ``start:stop:step`` ranges (stop included), in degrees."""

from __future__ import annotations

import math


def parse_angles(spec: str | None) -> list[float | None]:
    """``"-60,-30,30"`` or a range ``"-60:60:15"`` (end included); ``None``: keep the source's angle."""
    if spec is None or spec == "":
        return [None]
    out: list[float | None] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ":" in part:
                lo, hi, step = (float(x) for x in part.split(":"))
                if step <= 0:
                    raise ValueError
                n = int(math.floor((hi - lo) / step + 1e-9)) + 1
                out += [lo + i * step for i in range(max(n, 0))]
            else:
                out.append(float(part))
        except ValueError:
            raise ValueError(f"angles must be numbers or start:stop:step ranges, got {part!r}") from None
    return out
