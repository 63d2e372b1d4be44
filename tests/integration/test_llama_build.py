"""The llama.cpp build decodes on this CPU: the check that would have caught the AMX crash.

The decode runs in a child process so that a crash inside llama.cpp (SIGSEGV, SIGILL) is reported
as a test failure naming the CPU and the build, not as a dead pytest.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.models

# Build the LLM exactly as `voxloop serve` does (its engine options, its warm-up), then decode a
# multi-token prompt; one-token prompts did not crash the native AMX build, longer ones did.
CHILD = r"""
import asyncio
from voxloop.cli.serve import engine_specs
from voxloop.cli.settings import load_settings
from voxloop.engines.types import ChatMessage, LLMOptions
from voxloop.engines.stack import EngineStack

stack = EngineStack(engine_specs(load_settings(), {}))  # what `voxloop serve` builds by default
stack.llm.prewarm()

async def main() -> str:
    messages = [ChatMessage("system", "You are a helpful voice assistant."),
                ChatMessage("user", "Name three colours of the rainbow, please, in a short sentence.")]
    return "".join([d async for d in stack.llm.chat(messages, LLMOptions(max_tokens=24, temperature=0.0))])

print("REPLY:" + asyncio.run(main()).replace("\n", " "))
"""


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def test_multi_token_prompt_decodes_through_the_server_path() -> None:
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    where = f"CPU {_cpu()} ({platform.machine()})"
    if run.returncode < 0:
        pytest.fail(f"llama.cpp crashed with signal {-run.returncode} decoding a multi-token prompt on "
                    f"{where}: the build is not portable (see scripts/llama-cmake-args)\n{run.stderr[-2000:]}")
    assert run.returncode == 0, f"decode failed on {where}:\n{run.stderr[-2000:]}"
    reply = next(line[6:] for line in run.stdout.splitlines() if line.startswith("REPLY:"))
    assert reply.strip(), "the model produced no text"


def test_build_is_portable() -> None:
    """No instruction set beyond the portable baseline was compiled in (x86-64)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the x86-64 baseline check only")
    import llama_cpp

    from voxloop.engines.llm.cpu import system_info_features

    features = system_info_features(llama_cpp.llama_print_system_info().decode())
    assert {"AVX2", "FMA", "F16C"} <= features, features
    assert not features & {"AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "AVX_VNNI"}, (
        f"llama-cpp-python was built with {sorted(features)}: a native build; rerun make setup")
