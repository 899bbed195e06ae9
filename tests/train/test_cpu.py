"""bf16 autocast only where the CPU computes bfloat16 natively."""

from polyocr.train import cpu


def _info(tmp_path, flags: str):
    p = tmp_path / "cpuinfo"
    p.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 {flags}\n")
    return str(p)


def test_native_bf16_reads_the_cpu_flags(tmp_path):
    assert cpu.native_bf16.__wrapped__(_info(tmp_path, "avx2 amx_bf16 amx_tile")) is True
    assert cpu.native_bf16.__wrapped__(_info(tmp_path, "avx512f avx512_bf16")) is True
    assert cpu.native_bf16.__wrapped__(_info(tmp_path, "avx2 fma avx512f")) is False
    assert cpu.native_bf16.__wrapped__(str(tmp_path / "missing")) is False


def test_use_bf16_never_turns_it_on(monkeypatch):
    monkeypatch.setattr(cpu, "native_bf16", lambda: True)
    assert cpu.use_bf16(True) is True and cpu.use_bf16(False) is False
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    assert cpu.use_bf16(True) is False
