"""The llama.cpp build-vs-CPU check (voxloop.engines.llm.cpu): pure functions, no model."""

from __future__ import annotations

from pathlib import Path

from voxloop.engines.llm.cpu import cpu_flags, missing_features, system_info_features

PORTABLE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
            "AVX512 = 0 | AMX_INT8 = 0 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")
NATIVE_SPR = PORTABLE.replace("AVX512 = 0", "AVX512 = 1").replace("AMX_INT8 = 0", "AMX_INT8 = 1")
ZEN3 = "fpu sse sse2 lm pni ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi1 bmi2"
ATOM = "fpu sse sse2 lm pni ssse3 sse4_1 sse4_2"  # Gemini Lake: no AVX at all


def test_system_info_lists_only_enabled_features() -> None:
    features = system_info_features(PORTABLE)
    assert {"AVX2", "FMA", "F16C", "BMI2", "LLAMAFILE"} <= features
    assert "AVX512" not in features and "AMX_INT8" not in features


def test_portable_build_runs_on_avx2_cpu() -> None:
    assert missing_features(system_info_features(PORTABLE), set(ZEN3.split())) == []


def test_native_amx_build_is_refused_on_avx2_cpu() -> None:
    assert missing_features(system_info_features(NATIVE_SPR), set(ZEN3.split())) == ["AMX_INT8", "AVX512"]


def test_avx2_build_is_refused_on_a_cpu_without_avx() -> None:
    assert missing_features(system_info_features(PORTABLE), set(ATOM.split())) == [
        "AVX", "AVX2", "BMI2", "F16C", "FMA"]


def test_unknown_or_non_x86_cpu_is_not_refused(tmp_path: Path) -> None:
    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 asimddp\n")
    assert cpu_flags(arm) is None
    assert cpu_flags(tmp_path / "absent") is None
    assert missing_features(system_info_features(PORTABLE), None) == []
    assert missing_features(system_info_features(PORTABLE), {"fp", "asimd"}) == []


def test_cpu_flags_reads_the_flags_line(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {ZEN3}\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == set(ZEN3.split())
