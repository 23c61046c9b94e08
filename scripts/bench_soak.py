"""Soak benchmark: ``dreamstream live`` for N minutes against a scripted audience, everything on 127.0.0.1.

    .venv/bin/python scripts/bench_soak.py                       # 30 min, a camera-like network input
    .venv/bin/python scripts/bench_soak.py --input file --minutes 30
    .venv/bin/python scripts/bench_soak.py --minutes 1 --warmup 0.25 --sample-s 10 --every-min 0.4 --drop-s 8 \
        --flood-s 20 --out out/soak_short          # what tests/test_soak.py runs in CI

The run: ``dreamstream live`` in a child process, its input a camera-like MPEG-TS stream over UDP from a sender
that drops for ``--drop-s`` every ``--every-min`` minutes and comes back (``--input file``: a looped clip instead),
its outputs an RTMP receiver that goes away and comes back on the same schedule, and a file. The audience:
chat through the console (``--control stdin``: the real command layer) every few seconds (``!dream``, two-class
targets, ``!layer``, ``!strength``, ``!skip``, ``!preset``, bad commands) with a flood of 300 messages now and
then; the web panel (state, preview, commands whose answers are counted, server-sent events from clients that
connect and vanish); OSC packets, good and bad, with a flood now and then.

Each minute it records the child's RSS, open descriptors, threads and child processes, the dreamed and output
fps, latency p50/p95 and the longest gap between output frames (the stats file), the panel commands sent and
answered, and the warning and error lines of the log that no scripted fault explains. It prints the table,
writes ``soak.json`` and draws ``soak.png`` under ``--out``; :func:`verdict` checks the goals (after the warm-up:
RSS grows less than 30 MB, descriptors, threads and children flat, the output at its rate with no gap over 100 ms,
every command answered, no unexplained error line) and the exit code is 1 when one is missed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench.machine import cpu_model  # noqa: E402
from bench.tables import Table  # noqa: E402

TOKEN = "soak-token-0123456789"
FPS = 30
#: Chat lines the console audience types, good and bad.
CHAT = ("!dream banana", "!dream goldfish", "!dream jellyfish+volcano*0.5", "!dream lemon", "!layer block5",
        "!layer block10", "!strength 1.3", "!strength 0.7", "!skip", "!preset default", "!status", "!targets fish",
        "!dream qwertyuiop", "!strength 99", "!layer nope", "!frobnicate", "!octaves 2")
#: Log lines a scripted fault explains (the input and output going away and coming back, the bad commands and
#: packets, a flood): anything else at WARNING or above counts as unexplained.
EXPLAINED = re.compile(
    r"input|output|rtmp|reconnect|udp://|waiting for|connection|osc|OSC|packet|flood|refused|unknown command|"
    r"not a class|no ImageNet class|not a layer|out of range|too many|dropped|publisher|stream ended|timed out",
    re.IGNORECASE)
WARNING_WORDS = re.compile(r"\b(warning|error|failed|traceback|exception)\b", re.IGNORECASE)

SENDER = r"""
import sys, time
from fractions import Fraction
import av, numpy as np
url, seconds = sys.argv[1], float(sys.argv[2])
with av.open(url, "w", format="mpegts") as out:
    video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "tune": "zerolatency", "g": "30"})
    video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
    audio = out.add_stream("aac", rate=48000, layout="stereo")
    ys, xs = np.mgrid[0:720, 0:1280]  # a scene, made once; the camera pans slowly over it and back
    scene = np.stack([128 + 100 * np.sin(xs / 37), 128 + 100 * np.cos(ys / 29), 128 + 80 * np.sin((xs + ys) / 53)],
                     -1).astype(np.uint8)
    start = time.monotonic()
    for i in range(int(seconds * 30)):
        x, y = int(320 + 300 * np.sin(i / 300)), int(180 + 170 * np.cos(i / 410))
        image = np.ascontiguousarray(scene[y:y + 360, x:x + 640])
        picture = av.VideoFrame.from_ndarray(image, format="rgb24")
        picture.pts, picture.time_base = i, Fraction(1, 30)
        out.mux(video.encode(picture))
        sound = av.AudioFrame.from_ndarray(np.zeros((2, 1600), np.float32), format="fltp", layout="stereo")
        sound.sample_rate, sound.pts, sound.time_base = 48000, i * 1600, Fraction(1, 48000)
        out.mux(audio.encode(sound))
        pause = start + (i + 1) / 30 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
"""

RECEIVER = r"""
import sys
import av
url = sys.argv[1]
with av.open(url, format="flv", options={"listen": "1"}, timeout=(120, 10)) as c:
    for packet in c.demux():
        pass
"""

TABLE = Table(("min", ">5"), ("RSS MB", ">7.0f"), ("heap MB", ">7.0f"), ("fds", ">4"), ("threads", ">7"),
              ("children", ">8"),
              ("dreamed", ">7.1f"), ("output", ">6.1f"), ("p50 ms", ">7.0f"), ("p95 ms", ">7.0f"),
              ("gap ms", ">6.0f"), ("asked", ">5"), ("answered", ">8"), ("unexplained", ">11"))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Audience:
    """The scripted viewers, panel clients and OSC controller; counts what they asked and what was answered."""

    child: subprocess.Popen
    panel: str
    osc_port: int
    flood_every: int = 150  # turns of 2 s between floods (5 minutes)
    seed: int = 0
    asked: int = 0
    answered: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        rng = random.Random(self.seed)
        from pythonosc.udp_client import SimpleUDPClient

        osc = SimpleUDPClient("127.0.0.1", self.osc_port)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tick = 0
        while not self.stop.wait(2.0):
            tick += 1
            with contextlib.suppress(OSError, ValueError):  # the child may be gone at the end
                self._chat(rng.choice(CHAT))
                if tick % self.flood_every == 0:  # now and then a flood of chat
                    for _ in range(300):
                        self._chat(rng.choice(CHAT))
                self._panel(rng)
                osc.send_message("/dreamstream/strength", rng.uniform(0.5, 1.5))
                osc.send_message("/dreamstream/target", rng.choice(("banana", "goldfish", "zebra")))
                raw.sendto(b"\x00not osc at all", ("127.0.0.1", self.osc_port))
                osc.send_message("/dreamstream/nowhere", 1)
                if tick % self.flood_every == self.flood_every // 2:  # and an OSC flood between them
                    for _ in range(500):
                        osc.send_message("/dreamstream/strength", 1.0)
        raw.close()

    def _chat(self, line: str) -> None:
        assert self.child.stdin is not None
        self.child.stdin.write(line + "\n")
        self.child.stdin.flush()

    def _panel(self, rng: random.Random) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/api/state", "/api/preview.jpg"):
            with contextlib.suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(urllib.request.Request(self.panel + path, headers=headers), timeout=10).read()
        body = json.dumps({"text": rng.choice(CHAT)}).encode()
        request = urllib.request.Request(self.panel + "/api/command", data=body, method="POST",
                                         headers={**headers, "Content-Type": "application/json"})
        self.asked += 1
        try:
            reply = json.loads(urllib.request.urlopen(request, timeout=10).read())
            self.answered += bool(reply.get("ok"))
        except urllib.error.HTTPError as e:  # a refused command is an answer too (a 4xx with its reason)
            self.answered += e.code < 500
        except (urllib.error.URLError, OSError) as e:
            self.errors.append(f"panel command: {e}")
        with contextlib.suppress(OSError):  # a server-sent events client that reads one event and vanishes
            events = urllib.request.urlopen(urllib.request.Request(self.panel + "/api/events", headers=headers),
                                            timeout=10)
            events.readline()
            events.close()


class Restarting:
    """A helper process (the input's sender, the RTMP receiver) that goes away for ``off_s`` every ``every_s``."""

    def __init__(self, argv: list[str], every_s: float, off_s: float) -> None:
        self.argv, self.every_s, self.off_s = argv, every_s, off_s
        self.proc: subprocess.Popen | None = None
        self.stop = threading.Event()
        self.drops = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.stop.wait(self.every_s):
                break
            self.proc.kill()
            self.proc.wait()
            self.drops += 1
            if self.stop.wait(self.off_s):
                break
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def sample(pid: int) -> dict[str, Any]:
    """RSS (MB), open descriptors, threads and descendant processes of ``pid``, from ``/proc`` (Linux)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    family, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in family} - family
        family |= found
        grew = bool(found)
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"]), "children": len(family) - 1}


def stats_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def minute_of(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The stats lines of one minute summarised: mean fps, worst latency percentiles and gap."""
    if not stats:
        return {"heap_in_use_mb": None, "heap_held_mb": None, "dreamed_fps": 0.0, "output_fps": 0.0, "p50_ms": None,
                "p95_ms": None, "gap_ms": None}
    def worst(key: str) -> float | None:
        values = [s[key] for s in stats if s.get(key) is not None]
        return max(values) if values else None
    heap = [s for s in stats if "heap_in_use_mb" in s]
    return {"heap_in_use_mb": heap[-1]["heap_in_use_mb"] if heap else None,
            "heap_held_mb": heap[-1]["heap_held_mb"] if heap else None,
            "dreamed_fps": sum(s["dreamed_fps"] for s in stats) / len(stats),
            "output_fps": sum(s["output_fps"] for s in stats) / len(stats),
            "p50_ms": worst("latency_p50_ms"), "p95_ms": worst("latency_p95_ms"), "gap_ms": worst("max_gap_ms")}


def unexplained(lines: list[str]) -> list[str]:
    """Log lines that read as a warning or an error and that no scripted fault explains."""
    return [line for line in lines if WARNING_WORDS.search(line) and not EXPLAINED.search(line)]


def verdict(rows: list[dict[str, Any]], warmup_min: float, rss_growth_mb: float | None = 30.0,
            timing: bool = True) -> list[str]:
    """The goals the run missed (empty: all met), over the rows after the warm-up (``timing``: the output's rate
    and gaps too, which only a machine running nothing else can promise; ``rss_growth_mb`` None: no memory goal,
    for a run too short to be past the heap's warm-up)."""
    after = [r for r in rows if r["minute"] > warmup_min] or rows[-1:]
    missed = []
    growth = after[-1]["rss_mb"] - after[0]["rss_mb"]
    if rss_growth_mb is not None and growth >= rss_growth_mb:
        missed.append(f"RSS grew {growth:.0f} MB after the warm-up (goal: under {rss_growth_mb:.0f})")
    for key, slack in (("fds", 4), ("threads", 4), ("children", 1)):
        values = [r[key] for r in after]
        if max(values) - min(values) > slack:
            missed.append(f"{key} went from {min(values)} to {max(values)} (goal: flat, within {slack})")
    slow = [r for r in after if r["output_fps"] < 0.95 * FPS] if timing else []
    if slow:
        missed.append(f"output below {0.95 * FPS:.1f} fps at minute(s) {', '.join(str(r['minute']) for r in slow)}")
    gaps = [r for r in after if r["gap_ms"] is not None and r["gap_ms"] > 100] if timing else []
    if gaps:
        missed.append("an output gap over 100 ms in minute(s) " + ", ".join(str(r["minute"]) for r in gaps))
    asked, answered = sum(r["asked"] for r in rows), sum(r["answered"] for r in rows)
    if answered < asked:
        missed.append(f"{asked - answered} of {asked} panel commands unanswered")
    lines = [line for r in rows for line in r["unexplained"]]
    if lines:
        missed.append(f"{len(lines)} unexplained warning or error lines, the first: {lines[0][:160]}")
    return missed


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Memory, threads and descriptors, fps and latency over the run, in one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    (mem, counts), (fps, lat) = axes
    mem.plot(minutes, [r["rss_mb"] for r in rows], "o-", label="RSS")
    for key, label in (("heap_in_use_mb", "heap in use"), ("heap_held_mb", "heap held")):
        mem.plot(minutes, [r.get(key) or float("nan") for r in rows], "o-", label=label)
    mem.legend()
    mem.set_ylabel("MB")
    for key in ("threads", "fds", "children"):
        counts.plot(minutes, [r[key] for r in rows], "o-", label=key)
    counts.legend()
    counts.set_ylabel("count")
    fps.plot(minutes, [r["dreamed_fps"] for r in rows], "o-", label="dreamed")
    fps.plot(minutes, [r["output_fps"] for r in rows], "o-", label="output")
    fps.set_ylim(bottom=0)
    fps.legend()
    fps.set_ylabel("frames a second")
    for key in ("p50_ms", "p95_ms", "gap_ms"):
        lat.plot(minutes, [r[key] if r[key] is not None else float("nan") for r in rows], "o-", label=key)
    lat.legend()
    lat.set_ylabel("ms")
    for ax in (fps, lat):
        ax.set_xlabel("minute")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """One run; returns its rows and verdict (and writes the log, stats, JSON and plot under ``args.out``)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stats_file, log_file = out / "stats.jsonl", out / "live.log"
    stats_file.unlink(missing_ok=True)
    rtmp_port, panel_port, osc_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    rtmp = f"rtmp://127.0.0.1:{rtmp_port}/app/soak"
    every_s, off_s = args.every_min * 60, args.drop_s
    helpers = [Restarting([sys.executable, "-c", RECEIVER, rtmp], every_s, off_s)]
    if args.input == "network":
        udp = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
        helpers.append(Restarting([sys.executable, "-c", SENDER, udp, str(args.minutes * 60 + 60)], every_s * 1.3,
                                  off_s))
        source = udp
    else:
        source = str(out / "input.mp4")
        from stream.io.clips import write_pan_clip

        write_pan_clip(source, None, frames=20 * FPS, width=640, height=360, fps=FPS)
    threads = [threading.Thread(target=h.run, daemon=True) for h in helpers]
    for t in threads:
        t.start()
    time.sleep(2.0)  # the receiver listening, the sender sending
    seconds = args.minutes * 60
    config = out / "soak.yaml"
    interval = min(5.0, args.sample_s / 2)  # input_wait_s 0: a dropped input is waited for, with holding cards
    config.write_text(f"live:\n  stats_interval_s: {interval}\n  input_wait_s: 0\n")
    argv = [sys.executable, "-c", "from stream.cli.main import main; raise SystemExit(main())", "live",
            "--input", source, "--output", rtmp, "--output", str(out / "out.ts"), "--control", "stdin",
            "--panel", f"127.0.0.1:{panel_port}", "--osc", f"127.0.0.1:{osc_port}", "--duration", str(seconds),
            "--stats-file", str(stats_file), "--config", str(config)]
    if args.input == "file":
        argv.append("--loop")
    env = {**os.environ, "DREAMSTREAM_PANEL_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    with open(log_file, "w") as log:
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=log, text=True, env=env, cwd=ROOT)
    audience = Audience(child, f"http://127.0.0.1:{panel_port}", osc_port, max(2, round(args.flood_s / 2)))
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    read_lines = 0
    try:
        wait_ready(child, panel_port)
        talking = threading.Thread(target=audience.run, daemon=True)
        talking.start()
        n = 0
        asked = answered = 0
        while child.poll() is None and (n + 1) * args.sample_s <= seconds:
            n += 1
            while time.monotonic() < started + n * args.sample_s and child.poll() is None:
                time.sleep(0.5)
            if child.poll() is not None:
                break
            minute = round(n * args.sample_s / 60, 2)
            lines = log_file.read_text(errors="replace").splitlines()
            new, read_lines = lines[read_lines:], len(lines)
            recent = [s for s in stats_lines(stats_file) if s.get("time", 0) >= time.time() - args.sample_s]
            row = {"minute": minute, **sample(child.pid), **minute_of(recent),
                   "asked": audience.asked - asked, "answered": audience.answered - answered,
                   "unexplained": unexplained(new)}
            asked, answered = audience.asked, audience.answered
            rows.append(row)
            print(TABLE.row(minute, row["rss_mb"], row["heap_in_use_mb"] or 0, row["fds"], row["threads"],
                            row["children"], row["dreamed_fps"], row["output_fps"], row["p50_ms"] or 0,
                            row["p95_ms"] or 0, row["gap_ms"] or 0,
                            row["asked"], row["answered"], len(row["unexplained"])), flush=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(120)  # its --duration counts from its first output frame: let it end by itself
    finally:
        audience.stop.set()
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
        for h in helpers:
            h.stop.set()
        for t in threads:
            t.join(30)
    return {"input": args.input, "minutes": args.minutes, "warmup_min": args.warmup, "machine": cpu_model(),
            "rows": rows, "exit_code": child.returncode, "input_drops": helpers[-1].drops if len(helpers) > 1 else 0,
            "output_drops": helpers[0].drops, "missed": verdict(rows, args.warmup) if rows else ["no minute ran"]}


def wait_ready(child: subprocess.Popen, panel_port: int, timeout_s: float = 180.0) -> None:
    """Until the panel answers (the model is loaded and the stream is on), or the child exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"dreamstream live exited with {child.returncode} before it was up (see its log)")
        with contextlib.suppress(urllib.error.URLError, OSError):
            request = urllib.request.Request(f"http://127.0.0.1:{panel_port}/api/state",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
            urllib.request.urlopen(request, timeout=5).read()
            return
        time.sleep(0.5)
    raise SystemExit(f"the panel did not answer within {timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=2.0, help="minutes before the goals count")
    ap.add_argument("--input", choices=("network", "file"), default="network")
    ap.add_argument("--every-min", type=float, default=4.0, help="the input and the RTMP receiver drop this often")
    ap.add_argument("--drop-s", type=float, default=20.0, help="... for this long")
    ap.add_argument("--sample-s", type=float, default=60.0, help="seconds between the table's rows")
    ap.add_argument("--flood-s", type=float, default=300.0, help="seconds between floods of chat (and of OSC)")
    ap.add_argument("--out", default="out/soak")
    args = ap.parse_args(argv)
    print(f"soak: {args.minutes:g} min, {args.input} input, on {cpu_model()}\n{TABLE.header()}", flush=True)
    result = soak(args)
    out = Path(args.out)
    (out / "soak.json").write_text(json.dumps(result, indent=1))
    if result["rows"]:
        plot(result["rows"], out / "soak.png", f"soak: {args.input} input, {args.minutes:g} min ({result['machine']})")
    for line in result["missed"] or ["every goal met"]:
        print(f"soak: {line}")
    print(f"soak: {out / 'soak.json'}, {out / 'soak.png'}")
    return 1 if result["missed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
