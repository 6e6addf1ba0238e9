#!/usr/bin/env python3
"""Measures `etl watch` latency the way a developer feels it (issue: the development loop).

1. Write -> start of the re-run, on the shipped demo: 20 edits of one task's closure; each
   time, the wall-clock time just before the file is written is compared with the
   `run_start` timestamp the watcher writes to its `--events` file. Target: median <= 300 ms.
2. Write -> end of the re-run of a changed task that loads 10,000 rows into SQLite (a
   generated project, the task has no dependants). Target: <= 1 s.

Both use a throwaway folder; nothing in the repository changes. Usage:

    cargo build --release && scripts/watch_latency.py [--bin target/release/etl] [--edits 20]

Prints the figures and exits 1 when a target is missed.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD = 120.0  # seconds: only against a hang, never a measurement bound


class Watcher:
    def __init__(self, etl, folder, script, events):
        self.events = folder / events
        self.proc = subprocess.Popen(
            [str(etl), "-q", "watch", script, "--events", events],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ETL_")},
        )
        self.wait_for(lambda e: e["event"] == "ready")

    def read(self):
        try:
            text = self.events.read_text()
        except FileNotFoundError:
            return []
        # Only whole lines: the last one may still be being written.
        out = []
        for line in text.split("\n")[:-1]:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for(self, pred):
        start = time.monotonic()
        while time.monotonic() - start < HANG_GUARD:
            for e in self.read():
                if pred(e):
                    return e
            if self.proc.poll() is not None:
                sys.exit(f"etl watch exited with {self.proc.returncode}")
            time.sleep(0.005)
        sys.exit("no event came: is the watcher stuck?")

    def run(self, n):
        end = self.wait_for(lambda e: e["event"] == "run_end" and e["run"] == n)
        start = self.wait_for(lambda e: e["event"] == "run_start" and e["run"] == n)
        change = [e for e in self.read() if e["event"] == "change"]
        return start, end, change[-1] if change else None

    def stop(self):
        try:
            self.proc.stdin.write(b"q\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{path} lacks {old!r}"
    t = time.time()
    path.write_text(text.replace(old, new, 1))
    return t


def ms(us):
    return us / 1000.0


def demo(etl, folder, edits):
    shutil.copytree(ROOT / "projects" / "demo", folder / "projects" / "demo")
    script = folder / "projects" / "demo" / "project.rhai"
    w = Watcher(etl, folder, "projects/demo/project.rhai", "demo-events.jsonl")
    w.run(1)
    to_start, to_event = [], []
    tasks = None
    for i in range(edits):
        time.sleep(0.15)  # separate edits, as a person saving
        t = edit(script, "summary written to", f"summary written to ({i})") if i == 0 else edit(
            script, f"summary written to ({i - 1})", f"summary written to ({i})"
        )
        start, _, change = w.run(i + 2)
        tasks = start["tasks"]
        to_start.append(ms(start["t"]) - t * 1000.0)
        if change and change.get("first_event"):
            to_event.append(ms(change["first_event"]) - t * 1000.0)
    w.stop()
    return to_start, to_event, tasks


def big(etl, folder, edits, rows=10_000):
    project = folder / "projects" / "latency_10k"
    (project / "data").mkdir(parents=True)
    with open(project / "data" / "rows.csv", "w") as f:
        f.write("id,name,amount,created_at\n")
        for i in range(rows):
            f.write(f"{i},name {i},{i % 1000}.{i % 100:02d},2024-01-{i % 28 + 1:02d} 10:{i % 60:02d}:00\n")
    (project / "project.rhai").write_text(
        'project("latency_10k");\n'
        'let dw = connect("warehouse");\n'
        'task("load_10k", |run| dw.load(#{ from: csv_file("data/rows.csv"), into: "rows_10k", key: ["id"], batch_rows: 4000 }));\n'
        'task("other", |run| log_info("untouched"));\n'
    )
    w = Watcher(etl, folder, "projects/latency_10k/project.rhai", "big-events.jsonl")
    w.run(1)
    to_end, durations = [], []
    script = project / "project.rhai"
    for i in range(edits):
        time.sleep(0.15)
        t = edit(script, f"batch_rows: {4000 + i}", f"batch_rows: {4001 + i}")
        start, end, _ = w.run(i + 2)
        assert start["tasks"] == ["load_10k"], start
        assert end["outcomes"][0]["rows"] == rows, end
        to_end.append(ms(end["ended"]) - t * 1000.0)
        durations.append(end["outcomes"][0]["seconds"] * 1000.0)
    w.stop()
    return to_end, durations


def summary(name, values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"{name}: median {statistics.median(values):.0f} ms, p90 {p90:.0f} ms, min {values[0]:.0f} ms, max {values[-1]:.0f} ms (n={len(values)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "etl"), help="the etl binary")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--big-edits", type=int, default=10)
    args = ap.parse_args()
    etl = Path(args.bin).resolve()
    if not etl.exists():
        sys.exit(f"{etl} does not exist: build it first (cargo build --release)")
    with tempfile.TemporaryDirectory(prefix="etl-latency-") as tmp:
        folder = Path(tmp)
        (folder / "etl.toml").write_text('[env.dev.connections]\nwarehouse = "sqlite://metadata/warehouse.db"\n')
        to_start, to_event, tasks = demo(etl, folder, args.edits)
        to_end, durations = big(etl, folder, args.big_edits)
    print(f"binary: {etl}")
    print(f"demo edit re-runs: {', '.join(tasks)}")
    print(summary("write -> first file event", to_event))
    print(summary("write -> re-run start (demo)", to_start))
    print(summary("write -> end of the 10,000-row re-run", to_end))
    print(summary("the 10,000-row task itself", durations))
    ok_start = statistics.median(to_start) <= 300
    ok_end = max(to_end) <= 1000
    print(f"target write -> start <= 300 ms (median): {'met' if ok_start else 'MISSED'}")
    print(f"target write -> end of a 10,000-row re-run <= 1 s (every edit): {'met' if ok_end else 'MISSED'}")
    sys.exit(0 if ok_start and ok_end else 1)


if __name__ == "__main__":
    main()
