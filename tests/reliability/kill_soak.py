#!/usr/bin/env python3
"""SIGKILL soak: a run killed again and again, some kills inside a save, resumes bit-identical.

Usage: kill_soak.py DIGITS_BINARY DIGITS_CSV [--seed N] [--max_steps N] [--keep]

It trains the digits example twice with the same arguments (a checkpoint every step, so
that most of the run's time is spent inside saves): once uninterrupted, the reference,
and once SIGKILLed and restarted (`--resume_from_checkpoint true` once a complete
checkpoint exists; a fresh start before) until it finishes. Each kill lands at a random
moment (seeded and printed; --seed repeats the plan, the timing of the machine does the
rest): after a random delay, when the save of a chosen step begins (its tmp-checkpoint-<step>
folder appears), when a checkpoint is published, or in the final writes after the last one.

After each kill it reads what the kill left: a new tmp-checkpoint-* or replaced-checkpoint-*
folder (write_checkpoint's temporary folders) or `*.tmp` file in output_dir (replace_file's)
means the kill landed inside a save. Every published checkpoint-* folder must be complete:
each file its manifest lists present, with that size and CRC-32, also while rotation
deletes old ones (it renames a folder to deleting-checkpoint-* before deleting it; a
half-deleted checkpoint-* is a failure).

It requires at least 10 kills, at least 3 of them inside a save, and then compares the two
runs: the final model.safetensors (tensor by tensor where the files differ), config and
plot, and every checkpoint the reference keeps (model, optimizer, scheduler, random and
loop state) byte for byte, which are deterministic on the CPU; and trainer_state.json,
train_results.json and eval_results.json without runtimes, rates (*_runtime, *_per_second)
and paths. Exit 1 on any difference, on a restart that fails (its stderr is printed), or
on too few kills. A complete checkpoint that only the killed run keeps (a kill after its
last save, before rotation) is printed as a note.

The delays decide only where a kill lands, and any landing point must resume bit-identical.
The counts do not hang on luck: about 8 steps at most pass between kills; should kills
inside a save fall behind, the next ones strike the moment a save begins; and a run that
finishes with too few kills is resumed from its last checkpoint and killed again.
"""

import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

MIN_KILLS = 10
MIN_KILLS_IN_SAVE = 3
MAX_KILLS = 80  # a cap on kills: far beyond what the counts above need
STEPS_BETWEEN_KILLS = 8  # at most about this many steps per start: 80 steps need 10 kills or more
POLL_SECONDS = 0.001
MAX_DIFFERENCES_SHOWN = 20

CHECKPOINT_FILES_COMPARED = ["model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "loop_state.pt"]
FINAL_FILES = ["model.safetensors", "train_results.json", "eval_results.json", "trainer_state.json"]  # in order
OUTPUT_FILES_COMPARED = ["model.safetensors", "config.json", "training_plot.svg"]


def training_arguments(csv, output_dir, max_steps):
    return ["--data", csv, "--output_dir", output_dir, "--max_steps", str(max_steps), "--save_steps", "1",
            "--save_total_limit", "2", "--eval_steps", "40", "--logging_steps", "5",
            "--load_best_model_at_end", "false", "--disable_tqdm", "true"]


def step_of(name, prefix):
    """The step of `<prefix><step>`, or None."""
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix):]
    return int(digits) if digits.isdigit() else None


def published_steps(output_dir):
    """The steps of the checkpoint-* folders that hold a manifest (what resume may take)."""
    steps = []
    for name in os.listdir(output_dir):
        step = step_of(name, "checkpoint-")
        if step is not None and os.path.isfile(os.path.join(output_dir, name, "checkpoint_manifest.json")):
            steps.append(step)
    return sorted(steps)


def save_leftovers(output_dir):
    """What a save in progress leaves: {name: identity} of temporary folders and files."""
    found = {}
    for name in os.listdir(output_dir):
        if name.startswith(("tmp-checkpoint-", "replaced-checkpoint-")) or name.endswith(".tmp"):
            try:
                status = os.stat(os.path.join(output_dir, name))
            except FileNotFoundError:  # published or removed since listdir
                continue
            found[name] = (status.st_ino, status.st_ctime_ns)  # the same name may be made again
    return found


def describe_leftover(output_dir, name):
    path = os.path.join(output_dir, name)
    if not os.path.isdir(path):
        return name
    files = sorted(os.listdir(path))
    stage = "manifest written" if "checkpoint_manifest.json" in files else f"{len(files)} files, no manifest"
    return f"{name} ({stage})"


def checkpoint_faults(folder):
    """What is wrong with a checkpoint folder: its manifest missing, or a file it lists missing or not as listed."""
    manifest_path = os.path.join(folder, "checkpoint_manifest.json")
    if not os.path.isfile(manifest_path):
        return [f"no checkpoint_manifest.json, {len(os.listdir(folder))} files left"]
    try:
        with open(manifest_path) as file:
            manifest = json.load(file)
    except (OSError, ValueError) as error:
        return [f"unreadable manifest: {error}"]
    faults = []
    for file_name, expected in manifest.items():
        path = os.path.join(folder, file_name)
        if not os.path.isfile(path):
            faults.append(f"{file_name} missing")
            continue
        content = read_bytes(path)
        if len(content) != expected["size"] or zlib.crc32(content) != expected["crc32"]:
            faults.append(f"{file_name} has {len(content)} bytes, crc32 {zlib.crc32(content)}; "
                          f"the manifest says {expected['size']}, {expected['crc32']}")
    return faults


def checkpoint_folders(output_dir):
    """{step: folder} of every checkpoint-* folder, complete or not."""
    folders = {}
    for name in os.listdir(output_dir):
        step = step_of(name, "checkpoint-")
        if step is not None:
            folders[step] = os.path.join(output_dir, name)
    return folders


def check_checkpoints(output_dir):
    """Problems of the published checkpoints: every checkpoint-* folder must be complete."""
    problems = []
    for step, folder in sorted(checkpoint_folders(output_dir).items()):
        faults = checkpoint_faults(folder)
        if faults:
            problems.append(f"{folder}: {'; '.join(faults)}")
    return problems


class Attempt:
    """One start of the killed run, and the moment its kill is planned for."""

    def __init__(self, rng, start_step, max_steps, killing, save_wanted):
        self.target = min(start_step + rng.randint(1, STEPS_BETWEEN_KILLS), max_steps)
        self.kind = rng.choices(["delay", "save begins", "published"], weights=[4, 4, 2])[0] if killing else "none"
        self.delay = rng.uniform(0.02, 2.5)  # kind "delay": seconds after the start
        self.extra = rng.uniform(0.0, 0.03)  # the others: seconds after the event
        self.final_extra = rng.uniform(0.0, 0.15)  # after the last checkpoint: into the final writes
        if killing and save_wanted:  # too few kills inside a save so far: the moment a save begins
            self.kind, self.extra = "save begins", 0.0
        if killing and start_step >= max_steps:  # no save left to wait for: within the restart or the final writes
            self.kind, self.delay = "delay", rng.uniform(0.02, 1.5)


def steps_named(names, prefix):
    return [step for step in (step_of(name, prefix) for name in names) if step is not None]


def wait_for_kill_moment(process, attempt, output_dir, max_steps, final_kill_wanted):
    """Polls output_dir until the planned moment; returns (why it kills now, whether it is the kill after the
    last checkpoint), or (None, False) if the run ended first.

    An event is a step at or past the target, so that a poll that came late (a loaded machine)
    still stops the run within a few steps of it."""
    started = time.monotonic()
    event_at = None
    reason, final = None, False
    left_before = save_leftovers(output_dir)  # earlier kills' temporary folders are no save of this attempt
    while process.poll() is None:
        now = time.monotonic()
        if event_at is not None and now >= event_at:
            return reason, final
        names = os.listdir(output_dir)
        published = max(steps_named(names, "checkpoint-"), default=0)
        if event_at is None:
            if final_kill_wanted and published >= max_steps:
                event_at, final = now + attempt.final_extra, True
                reason = f"{attempt.final_extra * 1000:.0f} ms after the last checkpoint"
            elif attempt.kind == "delay" and attempt.target < max_steps and published >= attempt.target:
                return f"after {now - started:.3f} s, as checkpoint-{published} was published", False
            elif attempt.kind == "delay" and now - started >= attempt.delay:
                return f"after {now - started:.3f} s", False
            elif attempt.kind == "save begins":
                leftovers = save_leftovers(output_dir)
                saving = [step for step in steps_named(leftovers, "tmp-checkpoint-")
                          if step >= attempt.target and left_before.get(f"tmp-checkpoint-{step}") !=
                          leftovers[f"tmp-checkpoint-{step}"]]
                if saving:
                    event_at = now + attempt.extra
                    reason = f"{attempt.extra * 1000:.1f} ms after tmp-checkpoint-{min(saving)} appeared"
                elif published >= attempt.target:  # its save came and went between two polls
                    return f"after {now - started:.3f} s, as checkpoint-{published} was published", False
            elif attempt.kind == "published" and published >= attempt.target:
                event_at = now + attempt.extra
                reason = f"{attempt.extra * 1000:.1f} ms after checkpoint-{published} was published"
        time.sleep(POLL_SECONDS)
    return None, False


STARTED = []  # every training process, so that none outlives this script


def start(command, stdout, stderr):
    process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    STARTED.append(process)
    return process


def tail(path, limit=4000):
    with open(path, errors="replace") as file:
        text = file.read()
    return text[-limit:]


def run_killed(binary, csv, output_dir, logs, max_steps, rng):
    """Kills and restarts the run until it finishes with enough kills; returns (failures, counts)."""
    os.makedirs(output_dir)
    counts = {"kills": 0, "kills_in_save": 0, "resumes": 0}
    final_kill_done = False
    for attempt_number in range(1, MAX_KILLS + 11):
        steps = published_steps(output_dir)
        start_step = steps[-1] if steps else 0
        enough = counts["kills"] >= MIN_KILLS and counts["kills_in_save"] >= MIN_KILLS_IN_SAVE
        # Past the last checkpoint only the final writes are left: one kill there, more only if the counts need it.
        killing = counts["kills"] < MAX_KILLS and (start_step < max_steps or not enough)
        behind = counts["kills_in_save"] < MIN_KILLS_IN_SAVE and \
            counts["kills"] - counts["kills_in_save"] >= 2 * (counts["kills_in_save"] + 1)
        attempt = Attempt(rng, start_step, max_steps, killing, save_wanted=behind and start_step < max_steps)
        command = [binary] + training_arguments(csv, output_dir, max_steps)
        if steps:
            command += ["--resume_from_checkpoint", "true"]
            counts["resumes"] += 1
        before = save_leftovers(output_dir)
        stdout_path = os.path.join(logs, f"attempt-{attempt_number}.out")
        stderr_path = os.path.join(logs, f"attempt-{attempt_number}.err")
        with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
            process = start(command, stdout, stderr)
            reason, final = wait_for_kill_moment(process, attempt, output_dir, max_steps,
                                                 final_kill_wanted=not final_kill_done)
            if reason is not None:
                process.send_signal(signal.SIGKILL)
            returncode = process.wait()
        how = "resumed from checkpoint-%d" % start_step if steps else "fresh start"
        if returncode != -signal.SIGKILL:
            if returncode != 0:
                return [f"attempt {attempt_number} ({how}) failed with exit code {returncode}:\n"
                        f"  command: {' '.join(command)}\n--- stderr ---\n{tail(stderr_path)}"
                        f"--- stdout (end) ---\n{tail(stdout_path, 1500)}"], counts
            print(f"attempt {attempt_number:2}: {how}, finished (exit 0)")
            if enough or counts["kills"] >= MAX_KILLS:
                return [], counts
            continue  # too few kills yet: a finished run resumed from its last checkpoint must give the same files
        counts["kills"] += 1
        final_kill_done = final_kill_done or final
        after = save_leftovers(output_dir)
        new = sorted(name for name, identity in after.items() if before.get(name) != identity)
        counts["kills_in_save"] += bool(new)
        reached = published_steps(output_dir)
        where = ("INSIDE a save: " + ", ".join(describe_leftover(output_dir, name) for name in new)) if new \
            else "outside a save"
        if final:
            written = [name for name in FINAL_FILES if os.path.exists(os.path.join(output_dir, name))]
            where += f"; of the final files, {', '.join(written) if written else 'none'} written"
        print(f"attempt {attempt_number:2}: {how}, killed {reason}; newest checkpoint "
              f"{reached[-1] if reached else 'none'}; {where}")
        problems = check_checkpoints(output_dir)
        if problems:
            return [f"after kill {counts['kills']}, a published checkpoint is incomplete or damaged:\n  " +
                    "\n  ".join(problems)], counts
    return [f"the run did not finish within {MAX_KILLS + 10} starts"], counts


def safetensors_tensors(path):
    """{name: (dtype, shape, bytes)} of a safetensors file, read by its format (8-byte header length, JSON, data)."""
    with open(path, "rb") as file:
        content = file.read()
    (header_size,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8:8 + header_size])
    data = content[8 + header_size:]
    return {name: (entry["dtype"], entry["shape"], data[entry["data_offsets"][0]:entry["data_offsets"][1]])
            for name, entry in header.items() if name != "__metadata__"}


def read_bytes(path):
    with open(path, "rb") as file:
        return file.read()


def compare_model(reference_path, killed_path):
    if read_bytes(reference_path) == read_bytes(killed_path):
        return []
    reference, killed = safetensors_tensors(reference_path), safetensors_tensors(killed_path)
    differences = [f"{killed_path}: tensors {sorted(set(reference) ^ set(killed))} are in one file only"] \
        if set(reference) != set(killed) else []
    for name in sorted(set(reference) & set(killed)):
        if reference[name] != killed[name]:
            dtype, shape, data = killed[name]
            first = next((i for i, (x, y) in enumerate(zip(reference[name][2], data)) if x != y), None)
            differences.append(f"{killed_path}: tensor {name} ({dtype} {shape}) differs from the reference "
                               f"(first differing byte {first})")
    return differences or [f"{killed_path}: same tensors as the reference, but the files differ (header or metadata)"]


def comparable_state(path):
    """trainer_state.json without what differs between two identical runs: runtimes, rates and paths."""
    with open(path) as file:
        state = json.load(file)

    def keep(key):
        return not (key.endswith("_runtime") or key.endswith("_per_second"))

    state["log_history"] = [{k: v for k, v in entry.items() if keep(k)} for entry in state["log_history"]]
    if state.get("best_model_checkpoint"):
        state["best_model_checkpoint"] = os.path.basename(state["best_model_checkpoint"])
    return state


def compare_states(reference_path, killed_path):
    reference, killed = comparable_state(reference_path), comparable_state(killed_path)
    if reference == killed:
        return []
    differences = [f"{killed_path}: {key} is {killed.get(key)!r}, the reference's {reference.get(key)!r}"
                   for key in sorted(set(reference) | set(killed))
                   if key != "log_history" and reference.get(key) != killed.get(key)]
    ref_log, killed_log = reference["log_history"], killed["log_history"]
    for index in range(max(len(ref_log), len(killed_log))):
        a = ref_log[index] if index < len(ref_log) else None
        b = killed_log[index] if index < len(killed_log) else None
        if a != b:
            differences.append(f"{killed_path}: log_history[{index}] is {b}, the reference's {a}")
    return differences


def compare_runs(reference_dir, killed_dir):
    differences = []
    for name in OUTPUT_FILES_COMPARED:
        reference, killed = os.path.join(reference_dir, name), os.path.join(killed_dir, name)
        if name.endswith(".safetensors"):
            differences += compare_model(reference, killed)
        elif read_bytes(reference) != read_bytes(killed):
            differences.append(f"{killed}: differs from the reference")
    differences += compare_states(os.path.join(reference_dir, "trainer_state.json"),
                                  os.path.join(killed_dir, "trainer_state.json"))
    for results in ["train_results.json", "eval_results.json"]:
        reference, killed = (comparable_state_of_results(os.path.join(folder, results))
                             for folder in (reference_dir, killed_dir))
        if reference != killed:
            differences.append(f"{killed_dir}/{results}: {killed}, the reference's {reference}")
    reference_checkpoints, killed_checkpoints = published_steps(reference_dir), published_steps(killed_dir)
    missing = sorted(set(reference_checkpoints) - set(killed_checkpoints))
    if missing:
        differences.append(f"{killed_dir} lacks checkpoints {missing} that the reference holds")
    for step in sorted(set(reference_checkpoints) & set(killed_checkpoints)):
        folder = f"checkpoint-{step}"
        for name in CHECKPOINT_FILES_COMPARED:
            reference, killed = (os.path.join(run, folder, name) for run in (reference_dir, killed_dir))
            if name.endswith(".safetensors"):
                differences += compare_model(reference, killed)
            elif read_bytes(reference) != read_bytes(killed):
                differences.append(f"{killed}: differs from the reference (bytes)")
        differences += compare_states(os.path.join(reference_dir, folder, "trainer_state.json"),
                                      os.path.join(killed_dir, folder, "trainer_state.json"))
    # Rotation runs only after a save: a kill after the run's last save, before rotation, keeps
    # one more (complete) checkpoint than the reference.
    killed_folders = checkpoint_folders(killed_dir)
    for step in sorted(set(killed_folders) - set(reference_checkpoints)):
        faults = checkpoint_faults(killed_folders[step])
        if faults:
            differences.append(f"{killed_folders[step]}: half-deleted by rotation: {'; '.join(faults)}")
        else:
            print(f"note: the killed run keeps checkpoint-{step}, which rotation deleted in the reference: "
                  "a kill after the last save, before rotation")
    leftovers = sorted(save_leftovers(killed_dir))
    if leftovers:
        differences.append(f"{killed_dir}: temporary files of killed saves remain after the run finished: {leftovers}")
    return differences


def comparable_state_of_results(path):
    with open(path) as file:
        results = json.load(file)
    return {k: v for k, v in results.items() if not (k.endswith("_runtime") or k.endswith("_per_second"))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", help="the digits example")
    parser.add_argument("csv", help="the digits data set")
    parser.add_argument("--seed", type=int, default=None, help="repeats a run's kill moments (default: random)")
    parser.add_argument("--max_steps", type=int, default=80)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder even when the test passes")
    options = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each kill shows at once, even in a test that times out
    if not os.path.isfile(options.csv):
        print(f"skipped: no digits data set at {options.csv} (Debian's python3-sklearn ships it)")
        return 77
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {seed} (repeat with --seed {seed}), {options.max_steps} steps, a checkpoint every step")
    rng = random.Random(seed)

    scratch = tempfile.mkdtemp(prefix="kill_soak-")
    reference_dir, killed_dir = os.path.join(scratch, "reference"), os.path.join(scratch, "killed")
    began = time.monotonic()
    # The reference trains at the same time: the kills' timing decides only where they land.
    with open(os.path.join(scratch, "reference.out"), "wb") as stdout, \
            open(os.path.join(scratch, "reference.err"), "wb") as stderr:
        reference = start([options.binary] + training_arguments(options.csv, reference_dir, options.max_steps),
                          stdout, stderr)
        failures, counts = run_killed(options.binary, options.csv, killed_dir, scratch, options.max_steps, rng)
        if reference.wait() != 0:
            failures.insert(0, f"the reference run failed with exit code {reference.returncode}:\n"
                               f"{tail(os.path.join(scratch, 'reference.err'))}")

    print(f"{counts['kills']} kills, {counts['kills_in_save']} inside a save, {counts['resumes']} resumes; "
          f"{time.monotonic() - began:.1f} s")
    if not failures:
        if counts["kills"] < MIN_KILLS or counts["kills_in_save"] < MIN_KILLS_IN_SAVE:
            failures.append(f"the run finished after {counts['kills']} kills, {counts['kills_in_save']} inside a save; "
                            f"the test needs {MIN_KILLS} and {MIN_KILLS_IN_SAVE}")
        else:
            failures += compare_runs(reference_dir, killed_dir)
    if failures:
        shown = failures[:MAX_DIFFERENCES_SHOWN]
        more = f"\n... and {len(failures) - len(shown)} more" if len(failures) > len(shown) else ""
        print("FAILED (seed %d; files kept in %s):\n%s%s" % (seed, scratch, "\n".join(shown), more))
        return 1
    print("the killed run resumed bit-identical: its final model, its checkpoints (model, optimizer, scheduler, "
          "random and loop state) and the losses and metrics of trainer_state.json equal the uninterrupted run's")
    if options.keep:
        print(f"files kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))  # a test timeout: clean up
    try:
        sys.exit(main())
    finally:
        for process in STARTED:
            if process.poll() is None:
                process.kill()
                process.wait()
