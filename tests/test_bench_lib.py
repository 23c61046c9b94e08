"""The benchmarks' shared helpers (``scripts/bench/``): flags, tables, timing, machine lines, folders, boards."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from bench import ROOT, SCRIPTS
from bench.children import child_env, cli_argv, run_measured
from bench.flags import add_device, add_set, add_size, add_threads, names, parser, setting, size, size_name, sizes
from bench.machine import busy_note, describe, load_average, machine_info
from bench.media import pan_frames, work_folder
from bench.tables import Table, print_result, progress, title_spec, write_json
from bench.timing import summary_ms, timed


def test_sizes_and_settings_are_read_or_refused_with_the_reason() -> None:
    assert size("640x360") == (640, 360) and size(" 1280X720 ") == (1280, 720)
    assert sizes("320x180,640x360") == [(320, 180), (640, 360)] and size_name((640, 360)) == "640x360"
    with pytest.raises(argparse.ArgumentTypeError, match="not WIDTHxHEIGHT"):
        size("640")
    with pytest.raises(argparse.ArgumentTypeError, match="at least 32"):
        sizes("640x360,20x20", minimum=32)
    assert setting("video.dream_max_side=256") == ("video.dream_max_side", 256)
    assert setting("video.flow=none") == ("video.flow", "none") and setting("live.overlay=false")[1] is False
    with pytest.raises(argparse.ArgumentTypeError, match="section.key=value"):
        setting("octaves=2")
    assert names(("fp32", "bf16"))("fp32, bf16") == ["fp32", "bf16"]
    with pytest.raises(argparse.ArgumentTypeError, match="'fp8' is not one of fp32, bf16"):
        names(("fp32", "bf16"))("fp32,fp8")


def test_the_shared_flags_parse_into_sizes_overrides_and_threads() -> None:
    p = parser("A benchmark.\n\n    usage line")
    add_size(p, "640x360")
    add_size(p, "1280x720", flag="--hd-size")
    add_set(p)
    add_threads(p, None)
    add_device(p, "cpu")
    args = p.parse_args(["--size", "320x180", "--set", "dream.octaves=2", "--set", "video.flow=dis"])
    assert args.size == (320, 180) and args.hd_size == (1280, 720) and args.threads is None
    assert args.device == torch.device("cpu")
    assert dict(args.set) == {"dream.octaves": 2, "video.flow": "dis"}
    assert "usage line" in p.format_help()  # the docstring as written


def test_a_table_lines_titles_up_with_their_figures() -> None:
    assert title_spec("9.2e") == ">9" and title_spec("<12") == "<12" and title_spec(">5.2f") == ">5"
    assert title_spec("8") == "<8" and title_spec("5d") == ">5"
    t = Table(("mode", "<10"), ("warp err", "9.2e"), ("s/frame", "8.3f"), ("runs", ">5"))
    assert t.header() == f"{'mode':<10} {'warp err':>9} {'s/frame':>8} {'runs':>5}"
    assert t.row("stable", 2.3e-3, 0.1234, 7) == f"{'stable':<10} {2.3e-3:9.2e} {0.1234:8.3f} {7:>5}"
    assert t.row("per_frame", None, "n/a") == f"{'per_frame':<10} {'-':>9} {'n/a':>8}"  # None, text, fewer values
    assert all(len(line) == len(t.header()) for line in (t.row("a", 1.0, 2.0, 3), t.row("b", None, None, None)))
    with pytest.raises(ValueError):
        t.row(1, 2, 3, 4, 5)


def test_results_go_out_as_json_or_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print_result({"fps": 20.5}, True, lambda r: print("report"))
    assert json.loads(capsys.readouterr().out) == {"fps": 20.5}
    print_result({"fps": 20.5}, False, lambda r: print(f"report {r['fps']}"))
    assert capsys.readouterr().out == "report 20.5\n"
    write_json({"a": [1, 2]}, tmp_path / "deep" / "out.json")
    assert json.loads((tmp_path / "deep" / "out.json").read_text()) == {"a": [1, 2]}
    progress(True)("hidden")
    progress(False)("shown")
    out = capsys.readouterr()
    assert out.out == "" and out.err == "shown\n"


def test_timing_warms_up_then_times_a_fixed_count_or_stops_at_the_budget() -> None:
    calls: list[int] = []
    times = timed(lambda: calls.append(1), torch.device("cpu"), repeat=5, warmup=2, budget_s=60.0)
    assert len(times) == 5 and len(calls) == 7 and all(t >= 0 for t in times)
    calls.clear()
    assert (
        len(timed(lambda: calls.append(1), torch.device("cpu"), repeat=1000, warmup=0, budget_s=0.0)) == 3
    )  # at least 3
    s = summary_ms([0.010, 0.030, 0.020])
    assert s == {"median_ms": pytest.approx(20.0), "min_ms": pytest.approx(10.0), "runs": 3}


def test_the_machine_is_described_in_one_line_and_a_busy_one_is_noted() -> None:
    info = machine_info(torch.device("cpu"))
    assert info["cpu"] and info["logical_cpus"] == os.cpu_count() and info["device_name"] is None
    line = describe(info)
    assert line.startswith(f"cpu: {info['cpu']} (") and line.endswith("device cpu")
    load = load_average()
    assert load is None or len(load) == 3
    assert busy_note((0.5, 0.5, 0.5), 2) is None and busy_note(None, 2) is None
    assert "busy" in busy_note((3.2, 2.0, 1.0), 2)


def test_children_import_this_checkout_with_the_cli_s_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = child_env({"EXTRA": "1"})
    assert env["PYTHONPATH"].split(os.pathsep)[:2] == [str(ROOT), str(SCRIPTS)]
    assert "OMP_WAIT_POLICY" not in env and env["EXTRA"] == "1"  # as a user's shell: the CLI sets no wait policy
    assert child_env({"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"


def test_a_measured_child_reports_its_own_peak_memory_and_output(tmp_path: Path) -> None:
    grow = "import sys; b = bytearray(300 << 20); print('out'); print('err', file=sys.stderr); sys.exit(3)"
    run = run_measured([sys.executable, "-c", grow], cwd=tmp_path)
    assert run.returncode == 3 and run.stdout == "out\n" and run.stderr == "err\n"
    assert 300 < run.peak_mb < 1000 and run.minor_faults > 300 * 256 and run.seconds > 0  # its pages, not ours
    assert cli_argv(["video", "a.mp4"])[0] == sys.executable and cli_argv(["video", "a.mp4"])[-2:] == ["video", "a.mp4"]
    other = child_env(root=tmp_path)
    assert other["PYTHONPATH"].split(os.pathsep)[:2] == [str(tmp_path), str(tmp_path / "scripts")]


def test_work_folders_are_kept_or_removed(tmp_path: Path) -> None:
    with work_folder(tmp_path / "kept") as folder:
        (folder / "a").write_text("x")
    assert (tmp_path / "kept" / "a").exists()
    with work_folder() as folder:
        (folder / "a").write_text("x")
    assert not folder.exists()


def test_pan_frames_have_the_size_asked_for() -> None:
    image = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    frames = pan_frames(image, (64, 36), 3)
    assert len(frames) == 3 and all(f.shape == (36, 64, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # it moves


def test_a_live_board_dreams_the_class_asked_for_under_the_limits_given() -> None:
    from bench.dreams import live_board

    from stream.settings.loader import load_config

    cfg = load_config()
    board = live_board(cfg, target=1, hold_s=5.0)
    assert board.get().target == 1 and board.get().target_name
    assert board.limits.hold_s == 5.0 and board.limits.max_octaves == cfg.dream.octaves
    assert live_board(cfg).get().target is None
