#!/usr/bin/env python3
"""The hostile corpus (issue 26 item 8): runs every bad input of cases.py through the examples.

    run_corpus.py <build-folder> <digits.csv(.gz)> [--only SUBSTRING] [--workers N] [--verbose]

Each case runs a program of the build (digits, gpt, torchtrain-launch) in a folder of its
own, on files it writes there, and asserts the exit code, that nothing crashed (no signal,
no `terminate called`, no LibTorch assertion or raw c10 error), that the message is short
and printable, and that it holds the case's words (the input at fault and the fix). A
failing case prints one line and its output; the run ends with a summary and exits 1 when
any case failed.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as corpus  # noqa: E402

# Signs of a crash, or of LibTorch's raw text where our message should be.
CRASH_MARKS = ("terminate called", "INTERNAL ASSERT", "report a bug", "Exception raised from",
               "Segmentation fault", "core dumped", "what():  ", "bug in PyTorch", "internal miniz error")
MESSAGE_LIMIT = 2048  # bytes of stderr: a message, not a dump
CASE_TIMEOUT = 60


class Fixtures:
    """What the cases build on: the programs, the data and valid checkpoints to damage."""

    def __init__(self, build: Path, digits_csv: Path, work: Path):
        self.build = build
        self.work = work
        self.digits = self.find_program("digits")
        self.gpt = self.find_program("gpt")
        self.launch = self.find_program("torchtrain-launch")
        self.digits_csv = digits_csv
        opener = __import__("gzip").open if digits_csv.suffix == ".gz" else open
        with opener(digits_csv, "rb") as f:
            self.digits_lines = f.read().splitlines()
        self.checkpoints = {}

    def find_program(self, name):
        for sub in ("examples", "tools/launch", "tools", ""):
            path = self.build / sub / name
            if path.is_file() and os.access(path, os.X_OK):
                return path
        return None

    def csv_bytes(self, rows=200):
        return b"\n".join(self.digits_lines[:rows]) + b"\n"

    def make_checkpoints(self):
        """A short digits run per optimizer; its checkpoint-2 is what the checkpoint cases damage."""
        base = self.work / "fixtures"
        base.mkdir(parents=True, exist_ok=True)
        csv = base / "digits.csv"
        csv.write_bytes(self.csv_bytes())
        self.small_csv = csv
        for optim, optim_flags in corpus.CHECKPOINT_OPTIMIZERS.items():
            out = base / f"run_{optim}"
            command = [str(self.digits), "--data", str(csv), "--output_dir", str(out), "--max_steps", "2",
                       "--save_steps", "2", "--eval_steps", "2", "--logging_steps", "1", "--optim", optim,
                       *optim_flags, "--disable_tqdm", "true"]
            done = subprocess.run(command, cwd=base, capture_output=True, timeout=CASE_TIMEOUT)
            if done.returncode != 0 or not (out / "checkpoint-2").is_dir():
                raise SystemExit(f"cannot make the {optim} checkpoint the corpus damages: {' '.join(command)}\n"
                                 f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}")
            self.checkpoints[optim] = out / "checkpoint-2"


def printable(text: str) -> bool:
    """No control character (C0, DEL, C1) but newline and tab: a terminal shows it as written."""
    return not any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)


def check(case, done, elapsed):
    """The list of what is wrong with one case's run (empty when it passed)."""
    problems = []
    out = done.stdout.decode("utf-8", errors="replace")
    try:
        err = done.stderr.decode("utf-8")
    except UnicodeDecodeError:
        err = done.stderr.decode("utf-8", errors="replace")
        problems.append("stderr is not UTF-8")
    rc = done.returncode
    if rc < 0:
        problems.append(f"killed by signal {-rc}")
    elif rc != case.rc:
        problems.append(f"exit code {rc}, expected {case.rc}")
    for mark in CRASH_MARKS:
        if mark in out or mark in err:
            problems.append(f"output holds '{mark.strip()}'")
    if len(done.stderr) > MESSAGE_LIMIT:
        problems.append(f"stderr has {len(done.stderr)} bytes (limit {MESSAGE_LIMIT})")
    if not printable(err):
        problems.append("stderr holds unprintable characters")
    haystack = (err if case.rc != 0 else out + err).lower()
    missing = [w for w in case.words if w.lower() not in haystack]
    if missing:
        problems.append("message lacks " + ", ".join(repr(w) for w in missing))
    for word in case.absent:
        if word.lower() in haystack:
            problems.append(f"message holds {word!r}")
    return problems


def run_case(case, fixtures: Fixtures):
    folder = fixtures.work / "cases" / case.slug
    folder.mkdir(parents=True)
    context = corpus.Context(fixtures, folder)
    argv = case.make(context)
    env = dict(os.environ)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                 "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    env.update(case.env)
    start = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired as expired:
        done = subprocess.CompletedProcess(argv, -9, expired.stdout or b"", (expired.stderr or b"") + b"\n[timed out]")
    elapsed = time.monotonic() - start
    problems = check(case, done, elapsed)
    if not problems:
        shutil.rmtree(folder, ignore_errors=True)
    return case, done, problems, elapsed


def shown(data: bytes, limit=600):
    text = data.decode("utf-8", errors="backslashreplace")
    text = "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text)} characters]"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", type=Path)
    parser.add_argument("digits_csv", type=Path)
    parser.add_argument("--only", default="", help="run the cases whose name holds this")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="print every case's message")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    options = parser.parse_args()

    start = time.monotonic()
    if not options.digits_csv.is_file():
        print(f"hostile corpus: no digits data at {options.digits_csv} (Debian's python3-sklearn has it)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="torchtrain_hostile_"))
    fixtures = Fixtures(options.build.resolve(), options.digits_csv.resolve(), work)
    missing = [name for name in ("digits", "gpt", "torchtrain-launch") if getattr(fixtures, name.split("-")[-1]) is None]
    if missing:
        print(f"hostile corpus: {options.build} lacks {', '.join(missing)}; build those targets first")
        shutil.rmtree(work, ignore_errors=True)
        return 1
    fixtures.make_checkpoints()

    selected = [c for c in corpus.CASES if options.only in c.title]
    names = [c.title for c in corpus.CASES]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        print(f"hostile corpus: case names used twice: {sorted(duplicates)}")
        return 1
    failed = 0
    per_reader = {}
    times = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=options.workers) as pool:
        for case, done, problems, elapsed in pool.map(lambda c: run_case(c, fixtures), selected):
            times.append((elapsed, case.title))
            passed, total = per_reader.get(case.reader, (0, 0))
            per_reader[case.reader] = (passed + (not problems), total + 1)
            if problems:
                failed += 1
                print(f"FAIL {case.title} ({elapsed:.1f} s): {'; '.join(problems)}")
                print(f"  command: {' '.join(shown(a if isinstance(a, bytes) else str(a).encode(), 120) for a in done.args)}")
                print("  stderr: " + shown(done.stderr).replace("\n", "\n          "))
                if done.returncode not in (0, 1):
                    print("  stdout: " + shown(done.stdout[-600:]).replace("\n", "\n          "))
            elif options.verbose:
                print(f"ok   {case.title} ({elapsed:.1f} s): {shown(done.stderr, 300).strip()}")
    for reader, (passed, total) in per_reader.items():
        print(f"  {reader}: {passed}/{total} passed")
    slowest = sorted(times, reverse=True)[:5]
    print("  slowest: " + ", ".join(f"{title} {elapsed:.1f} s" for elapsed, title in slowest))
    print(f"hostile corpus: {len(selected)} cases, {len(selected) - failed} passed, {failed} failed "
          f"({time.monotonic() - start:.0f} s)")
    if failed == 0 and not options.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder kept: {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
