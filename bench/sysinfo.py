"""The machine line every benchmark report starts with."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "machine"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(with_load: bool = True) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{cpus} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}"
    if with_load:
        text += ", load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return text
