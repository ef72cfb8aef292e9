"""The benchmark runs and reports every figure it promises (numbers are printed, never asserted)."""
import json
import subprocess
import sys

from conftest import ROOT

KEYS = {"fps", "frame_ms_p50", "latency_ms_p50", "latency_ms_p95", "stages_ms_median", "bare_inference_ms", "ratio",
        "first_frame_s", "backend", "device", "pair_inference_ms", "ratio_to_pair", "incremental"}


def test_bench_json():
    out = subprocess.run([sys.executable, "scripts/bench.py", "--frames", "12", "--no-train", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert KEYS <= set(res) and res["frames"] == 12
    assert {"capture", "paste", "infer", "localize", "render", "record"} <= set(res["stages_ms_median"])
    assert res["fps"] > 0 and res["bare_inference_ms"] > 0 and res["ratio"] > 0
    assert res["backend"] == "onnx" and res["incremental"] is True and res["pair_inference_ms"] > 0


def test_bench_torch_backend_and_no_incremental():
    for extra, backend, incremental in ((["--backend", "torch"], "torch", True),
                                        (["--no-incremental"], "onnx", False)):
        out = subprocess.run([sys.executable, "scripts/bench.py", "--frames", "6", "--no-train", "--record", "none",
                              "--json", *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout)
        assert (res["backend"], res["incremental"], res["frames"]) == (backend, incremental, 6)


def test_soak_reports_memory():
    out = subprocess.run([sys.executable, "scripts/bench.py", "--soak", "30", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["soak_frames"] == 30 and res["rss_mb_start"] > 0 and res["rss_mb_end"] > 0
    assert "rss_growth_pct" in res


def test_bench_bad_size_is_one_line():
    out = subprocess.run([sys.executable, "scripts/bench.py", "--size", "big"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: --size")


def test_bench_preloaded_frames():
    """--preload N plays the source's first N frames from memory, looping: 12 frames from 5 held ones."""
    out = subprocess.run([sys.executable, "scripts/bench.py", "--frames", "12", "--preload", "5", "--no-train",
                          "--record", "none", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["frames"] == 12 and "preloaded" in res["source"] and res["frame_ms_p50"] > 0
