"""The machine line every benchmark report starts with."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "machine"]


def cpu_model() -> str:
    """The CPU's name, plus what a virtual machine's masked name hides: family/model, clock and
    the vector extensions llama.cpp and CTranslate2 care about."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    info: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip().lower(), value.strip())
    name = info.get("model name") or platform.processor() or "unknown CPU"
    flags = set(info.get("flags", "").split())
    extra = []
    if "cpu family" in info:
        extra.append(f"family {info['cpu family']} model {info.get('model', '?')}")
    if info.get("cpu mhz"):
        extra.append(f"{float(info['cpu mhz']) / 1000:.2f} GHz")
    if flags:
        isa = [f for f in ("avx2", "avx512f", "amx_int8") if f in flags]
        extra.append(", ".join(isa) if isa else "no AVX2")
        if "avx512f" not in flags:
            extra.append("no AVX-512")
    return f"{name} ({'; '.join(extra)})" if extra else name


def machine(with_load: bool = True) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{cpus} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}"
    if with_load:
        text += ", load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return text
