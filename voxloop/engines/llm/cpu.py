"""Does the llama.cpp build run on this CPU? Checked before the first decode.

``make setup`` builds llama.cpp for a portable baseline (``scripts/llama-cmake-args``), never
``-march=native``. A build made elsewhere (a copied ``.venv``, an image, a user's own
``CMAKE_ARGS``) may still use instructions this CPU lacks, which would kill the process with
SIGILL in the middle of a conversation. llama.cpp reports what it was compiled with
(``llama_print_system_info``); the kernel reports what the CPU has (``/proc/cpuinfo``); a
feature in the first and not in the second is a clear error at load time instead.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["cpu_flags", "missing_features", "system_info_features"]

# llama.cpp's system-info names -> /proc/cpuinfo flags (x86 only: ARM builds are checked by the
# loader itself, and other architectures are not reported here)
_X86_FLAGS: dict[str, str] = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


def system_info_features(info: str) -> set[str]:
    """Features llama.cpp says it was built with: ``"AVX2 = 1 | AVX512 = 0 | ..."``."""
    return {name for name, on in re.findall(r"\b([A-Z0-9_]+) = (\d+)", info) if on != "0"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's flags from the first processor entry; None where the kernel does not tell."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else None


def missing_features(built_with: set[str], flags: set[str] | None) -> list[str]:
    """Build features this CPU lacks (x86), in llama.cpp's names; [] when unknown."""
    if flags is None or not flags & {"sse2", "lm"}:  # not an x86 CPU, or nothing known
        return []
    return sorted(f for f in built_with if f in _X86_FLAGS and _X86_FLAGS[f] not in flags)
