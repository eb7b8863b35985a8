"""The hostile corpus's cases, one entry each, grouped by the reader they attack.

A case names the program's arguments (from a Context: the case's own folder, the
programs, the data, a copy of a valid checkpoint) and what must come of them: the exit
code (1 for a reported error; torchtrain-launch's usage errors are 2) and the words its
message must hold, case-insensitively: the input at fault and a word of the fix. The
driver (run_corpus.py) asserts these beside the checks every case gets: no crash, a short
and printable message.
"""
import json
import shutil
import struct
import zlib
from pathlib import Path


class Context:
    """What a case builds its arguments from: its folder (the working directory) and the fixtures."""

    def __init__(self, fixtures, folder: Path):
        self.fixtures = fixtures
        self.folder = folder

    def write(self, name, data) -> str:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)

    def checkpoint(self, optim="adamw_torch") -> Path:
        copy = self.folder / "out" / "checkpoint-2"
        shutil.copytree(self.fixtures.checkpoints[optim], copy)
        return copy

    def digits(self, *args, data=None):
        """digits on the small data set, writing into ./out, stopping after 2 steps."""
        return [str(self.fixtures.digits), "--data", str(self.fixtures.small_csv) if data is None else data,
                "--output_dir", "out",
                "--max_steps", "2", "--disable_tqdm", "true", *args]


class Case:
    def __init__(self, reader, name, make, words, rc=1, env=None, absent=()):
        self.reader, self.name, self.make, self.words, self.rc = reader, name, make, list(words), rc
        self.env = env or {}
        self.absent = list(absent)
        self.title = f"{reader}: {name}"
        self.slug = "".join(c if c.isalnum() else "_" for c in f"{reader}_{name}")[:80]


CASES = []


# --- Damage ---------------------------------------------------------------------------------

NESTED = b"[" * 80_000 + b"]" * 80_000      # 160 KB of brackets: a stack-depth attack
NESTED_OBJECT = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
GARBAGE = bytes((i * 167 + 13) % 256 for i in range(4096))  # binary, no NUL-free guarantee
BIG_GARBAGE = bytes((i * 131 + 7) % 256 for i in range(70_000))  # a 64 KiB+ binary dump


def update_manifest(folder: Path):
    """Rewrites checkpoint_manifest.json for the files as they are now, so that the damage a
    case made meets the file's own reader, not the checksum."""
    manifest_path = folder / "checkpoint_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name in list(manifest):
        path = folder / name
        if path.is_file():
            data = path.read_bytes()
            manifest[name] = {"crc32": zlib.crc32(data), "size": len(data)}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def truncate(name, keep=0.5):
    def edit(folder):
        path = folder / name
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
    return edit


def flip(name, at=0.5):
    def edit(folder):
        path = folder / name
        data = bytearray(path.read_bytes())
        i = min(len(data) - 1, int(len(data) * at))
        data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    return edit


def replace(name, content):
    def edit(folder):
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return edit


def remove(name):
    def edit(folder):
        (folder / name).unlink()
    return edit


def folder_for_file(name):
    def edit(folder):
        (folder / name).unlink()
        (folder / name).mkdir()
        (folder / name / "inside").write_text("x")
    return edit


def edit_json(name, change):
    def edit(folder):
        path = folder / name
        value = json.loads(path.read_text())
        value = change(value) or value
        path.write_text(json.dumps(value, indent=2))
    return edit


def set_key(key, value):
    def change(d):
        d[key] = value
    return change


def drop_key(key):
    def change(d):
        d.pop(key, None)
    return change


def json_text(name, transform):
    """Rewrites a JSON file's text (for what json.dumps cannot write: 1e400, nesting, NUL)."""
    def edit(folder):
        path = folder / name
        path.write_bytes(transform(path.read_bytes()))
    return edit


def state_dict_edit(name, change):
    """Rewrites a torch.save file (optimizer.pt, scheduler.pt) with Python's torch after
    `change` edited its state dict: a file Python itself would write, whose meaning is wrong."""
    def edit(folder):
        import torch  # the wheel the suite installs; only these cases need it
        path = folder / name
        state_dict = torch.load(path, weights_only=True)
        change(state_dict)
        torch.save(state_dict, path)
    return edit


def safetensors_header(change):
    """Edits model.safetensors' JSON header, keeping the tensor bytes."""
    def edit(folder):
        path = folder / "model.safetensors"
        data = path.read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        header = change(header) or header
        text = header if isinstance(header, bytes) else json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    return edit


def safetensors_raw(change):
    """Edits model.safetensors' bytes as a whole."""
    def edit(folder):
        path = folder / "model.safetensors"
        path.write_bytes(change(path.read_bytes()))
    return edit


def tensor_field(tensor, key, value):
    def change(header):
        header[tensor][key] = value
    return change


# --- Command-line flags (digits) ------------------------------------------------------------

def flag(name, args, words, rc=1, env=None, absent=()):
    CASES.append(Case("flags", name, lambda c: c.digits(*args), words, rc, env, absent))


flag("learning_rate inf", ["--learning_rate", "inf"], ["--learning_rate", "finite"])
flag("learning_rate nan", ["--learning_rate", "nan"], ["--learning_rate", "finite"])
flag("learning_rate -inf", ["--learning_rate=-inf"], ["--learning_rate", "finite"])
flag("learning_rate negative", ["--learning_rate", "-1"], ["--learning_rate", "negative"])
flag("learning_rate 1e400", ["--learning_rate", "1e400"], ["--learning_rate", "float", "1e400"])
flag("learning_rate word", ["--learning_rate", "fast"], ["--learning_rate", "float", "fast"])
flag("learning_rate empty", ["--learning_rate="], ["--learning_rate", "float"])
flag("learning_rate missing value", ["--learning_rate"], ["--learning_rate", "needs a value"])
flag("learning_rate two numbers", ["--learning_rate", "1e-3", "2e-3"], ["unexpected argument '2e-3'", "--help"])
flag("adam_beta1 above 1", ["--adam_beta1", "1.5"], ["--adam_beta1", "[0, 1)"], absent=["index 0"])
flag("adam_beta1 negative", ["--adam_beta1", "-0.1"], ["--adam_beta1", "[0, 1)"], absent=["index 0"])
flag("adam_beta2 equal 1", ["--adam_beta2", "1"], ["--adam_beta2", "[0, 1)"], absent=["index 1"])
flag("adam_beta2 nan", ["--adam_beta2", "nan"], ["--adam_beta2", "finite"])
flag("adam_epsilon negative", ["--adam_epsilon", "-1e-8"], ["--adam_epsilon", "negative"])
flag("weight_decay negative", ["--weight_decay", "-0.1"], ["--weight_decay", "negative"])
flag("weight_decay inf", ["--weight_decay", "inf"], ["--weight_decay", "finite"])
flag("seed negative", ["--seed", "-1"], ["--seed", "negative"])
flag("seed fraction", ["--seed", "1.5"], ["--seed", "int", "1.5"])
flag("seed beyond 64 bits", ["--seed", "99999999999999999999999"], ["--seed", "99999999999999999999999"])
flag("data_seed negative", ["--data_seed", "-7"], ["--data_seed", "negative"])
flag("max_steps beyond int", ["--max_steps", "99999999999"], ["--max_steps", "99999999999"])
flag("max_steps float", ["--max_steps", "1e3"], ["--max_steps", "int", "1e3"])
flag("num_train_epochs huge", ["--max_steps", "-1", "--num_train_epochs", "1e300"], ["--num_train_epochs"])
flag("num_train_epochs zero", ["--max_steps", "-1", "--num_train_epochs", "0"], ["--num_train_epochs", "positive"])
flag("num_train_epochs negative", ["--max_steps", "-1", "--num_train_epochs", "-2"], ["--num_train_epochs", "positive"])
flag("num_train_epochs nan", ["--num_train_epochs", "nan"], ["--num_train_epochs", "finite"])
flag("train batch size zero", ["--per_device_train_batch_size", "0"], ["--per_device_train_batch_size", "at least 1"])
flag("train batch size negative", ["--per_device_train_batch_size", "-3"], ["--per_device_train_batch_size", "at least 1"])
flag("train batch size beyond int", ["--per_device_train_batch_size", "1e20"], ["--per_device_train_batch_size", "int"])
flag("eval batch size zero", ["--per_device_eval_batch_size", "0"], ["--per_device_eval_batch_size", "at least 1"])
flag("gradient_accumulation_steps zero", ["--gradient_accumulation_steps", "0"], ["--gradient_accumulation_steps", "at least 1"])
flag("warmup_ratio 2", ["--warmup_ratio", "2"], ["--warmup_ratio", "[0, 1]"])
flag("warmup_steps negative", ["--warmup_steps", "-1"], ["--warmup_steps", "negative"])
flag("max_grad_norm negative", ["--max_grad_norm", "-1"], ["--max_grad_norm", "negative"])
flag("max_grad_norm inf", ["--max_grad_norm", "inf"], ["--max_grad_norm", "finite"])
flag("logging_steps zero", ["--logging_steps", "0"], ["--logging_steps", "positive"])
flag("logging_steps fraction above 1", ["--logging_steps", "2.5"], ["--logging_steps", "whole number"])
flag("eval_steps zero", ["--eval_steps", "0", "--logging_steps", "0", "--logging_strategy", "no"], ["--eval_steps", "positive"])
flag("save_steps zero", ["--save_steps", "0"], ["--save_steps", "positive"])
flag("save_steps 1e20", ["--save_steps", "1e20", "--load_best_model_at_end", "false"], [], rc=0)
flag("label_smoothing_factor 1", ["--label_smoothing_factor", "1"], ["--label_smoothing_factor", "[0, 1)"])
flag("neftune_noise_alpha negative", ["--neftune_noise_alpha", "-1"], ["--neftune_noise_alpha", "above 0"])
flag("optim unknown", ["--optim", "adamw_nonexistent"], ["--optim", "adamw_nonexistent", "adamw_torch"])
flag("lr_scheduler_type unknown", ["--lr_scheduler_type", "sawtooth"], ["--lr_scheduler_type", "sawtooth", "linear"])
flag("eval_strategy unknown", ["--eval_strategy", "sometimes"], ["--eval_strategy", "sometimes", "steps"])
flag("report_to unknown", ["--report_to", "wandb"], ["--report_to", "wandb", "tensorboard"])
flag("report_to all and none", ["--report_to", "all", "none"], ["--report_to", "beside"])
flag("bf16 and fp16", ["--bf16", "--fp16"], ["--bf16", "--fp16", "choose one"])
flag("bf16 not a bool", ["--bf16=maybe"], ["--bf16", "bool", "maybe"])
flag("dataloader_num_workers negative", ["--dataloader_num_workers", "-1"], ["--dataloader_num_workers", "negative"])
flag("dataloader_prefetch_factor without workers", ["--dataloader_prefetch_factor", "2"], ["--dataloader_prefetch_factor", "--dataloader_num_workers"])
flag("ddp_timeout zero", ["--ddp_timeout", "0"], ["--ddp_timeout", "at least 1"])
flag("unknown flag", ["--no_such_flag", "1"], ["--no_such_flag", "--help"])
flag("misspelt flag", ["--learning_rat", "0.1"], ["--learning_rat", "did you mean --learning_rate"])
flag("no_ on a number", ["--no_learning_rate"], ["--learning_rate", "not a boolean"])
flag("stray argument", ["stray"], ["unexpected argument 'stray'", "--field_name value"])
flag("config without file", ["--config"], ["--config", "json file"])
flag("torch_compile", ["--torch_compile", "true"], ["--torch_compile", "drop it"])
flag("push_to_hub", ["--push_to_hub"], ["--push_to_hub", "save_model"])
flag("lr_scheduler_kwargs not JSON", ["--lr_scheduler_kwargs", "{oops"], ["--lr_scheduler_kwargs"])
flag("optim_args unknown name", ["--optim", "sgd", "--optim_args", "warp=9"], ["--optim_args", "warp"])
flag("optim_args bad number", ["--optim", "sgd", "--optim_args", "momentum=lots"], ["--optim_args", "momentum", "lots"])
flag("metric_for_best_model unknown", ["--metric_for_best_model", "f7"], ["f7", "--metric_for_best_model", "accuracy"])
flag("load_best_model_at_end strategies differ",
     ["--load_best_model_at_end", "true", "--eval_strategy", "steps", "--save_strategy", "epoch"],
     ["--load_best_model_at_end", "--save_strategy", "--eval_strategy"])
flag("save_steps not multiple of eval_steps", ["--eval_steps", "3", "--save_steps", "5"], ["--save_steps", "--eval_steps", "multiple"])
flag("value of 64 KiB", ["--learning_rate", "9" * 65536 + "x"], ["--learning_rate", "float"])
flag("value of binary bytes", ["--learning_rate", bytes(range(1, 32)) + b"\xff\xfe"], ["--learning_rate", "float"])
flag("flag name of binary bytes", [b"--\x01\x02\xff"], ["unknown flag", "--help"])
flag("flag name of 64 KiB", ["--" + "a" * 65536], ["unknown flag"])
flag("output_dir is a file", ["--output_dir", "/etc/hostname"], ["/etc/hostname", "--output_dir"])
flag("output_dir unwritable", ["--output_dir", "/proc/no_such_folder/out"], ["/proc/no_such_folder", "--output_dir"])
flag("resume latest with none", ["--resume_from_checkpoint", "true"], ["no valid checkpoint", "out", "--resume_from_checkpoint"])
flag("resume from missing folder", ["--resume_from_checkpoint", "no_such_checkpoint"], ["no_such_checkpoint", "no such"])
flag("resume from a file", ["--resume_from_checkpoint", "/etc/hostname"], ["/etc/hostname", "not a", "folder"])
# The example's own flags.
flag("hidden_size zero", ["--hidden_size", "0"], ["--hidden_size", "at least 1"], absent=["out of bounds"])
flag("hidden_size negative", ["--hidden_size", "-5"], ["--hidden_size", "at least 1"])
flag("hidden_size beyond int", ["--hidden_size", "99999999999"], ["--hidden_size", "int", "99999999999"])
flag("eval_fraction above 1", ["--eval_fraction", "1.5"], ["--eval_fraction", "1.5", "between 0 and 1"])
flag("eval_fraction 1", ["--eval_fraction", "1"], ["--eval_fraction", "between 0 and 1"])
flag("eval_fraction 0", ["--eval_fraction", "0"], ["--eval_fraction", "between 0 and 1"])
flag("eval_fraction negative", ["--eval_fraction", "-0.1"], ["--eval_fraction", "-0.1", "between 0 and 1"])
flag("eval_fraction nan", ["--eval_fraction", "nan"], ["--eval_fraction", "nan", "between 0 and 1"])
flag("eval_fraction inf", ["--eval_fraction", "inf"], ["--eval_fraction", "between 0 and 1"])
flag("eval_fraction leaves no training image", ["--eval_fraction", "0.999"], ["--eval_fraction", "no image for training"])
flag("hidden_size word", ["--hidden_size", "wide"], ["--hidden_size", "int", "wide"])


# --- The gpt example's flags and text files -------------------------------------------------

def gpt(name, make_args, words, rc=1):
    def make(c):
        return [str(c.fixtures.gpt), "--output_dir", "out", "--max_steps", "1", "--disable_tqdm", "true",
                *make_args(c)]
    CASES.append(Case("gpt", name, make, words, rc))


gpt("model unknown", lambda c: ["--model", "gpt3"], ["--model", "gpt3", "small"])
gpt("block_size beyond gpt2_small", lambda c: ["--model", "gpt2_small", "--block_size", "2048"], ["--block_size", "1024"])
gpt("vocab_size zero", lambda c: ["--vocab_size", "0"], ["--vocab_size", "at least 1"])
gpt("block_size zero", lambda c: ["--block_size", "0"], ["--block_size", "at least 1"])
gpt("block_size negative", lambda c: ["--block_size", "-4"], ["--block_size", "at least 1"])
gpt("layers zero", lambda c: ["--layers", "0"], ["--layers", "at least 1"])
gpt("heads zero", lambda c: ["--heads", "0"], ["--heads", "at least 1"])
gpt("heads not dividing hidden", lambda c: ["--heads", "3"], ["--heads", "--hidden", "divide"])
gpt("max_eval_samples negative", lambda c: ["--max_eval_samples", "-1"], ["--max_eval_samples", "at least"])
gpt("sample_tokens negative", lambda c: ["--sample_tokens", "-1"], ["--sample_tokens", "at least 0"])
gpt("text file missing", lambda c: ["--text_files", "no_such_text"], ["no_such_text", "no such file"])
gpt("text file is a folder", lambda c: ["--text_files", str(c.folder)], ["--text_files", "is a folder"])
gpt("text file empty", lambda c: ["--text_files", c.write("empty.txt", b"")], ["empty.txt", "is empty"])
gpt("text file binary", lambda c: ["--text_files", c.write("binary.txt", GARBAGE)], ["--text_files", "--vocab_size"])
gpt("text files list empty", lambda c: ["--text_files="], ["--text_files", "no file"])
gpt("text too short for the vocabulary", lambda c: ["--text_files", c.write("short.txt", "a few words only\n")],
    ["--text_files", "--vocab_size", "vocabulary size too high"])


# --- JSON config files (digits) -------------------------------------------------------------

def config(name, content, words, rc=1, file_name="config.json", make_path=None):
    def make(c):
        path = make_path(c) if make_path else c.write(file_name, content)
        return c.digits(path)
    CASES.append(Case("config", name, make, [file_name if w == "$file" else w for w in words], rc))


config("empty file", b"", ["config.json", "JSON"])
config("only whitespace", b"  \n\n ", ["config.json"])
config("an array", b"[1, 2]", ["config.json", "object"])
config("a number", b"42", ["config.json", "object"])
config("null", b"null", ["config.json", "object"])
config("truncated", b'{"learning_rate": ', ["config.json"])
config("trailing garbage", b'{"learning_rate": 0.1} x', ["config.json"])
config("comment", b'{"learning_rate": 0.1 // fast\n}', ["config.json"])
config("unknown key", b'{"learning_rat": 0.1}', ["config.json", "learning_rat", "did you mean 'learning_rate'"])
config("wrong type", b'{"learning_rate": "fast"}', ["config.json", "learning_rate"])
config("bool for a number", b'{"per_device_train_batch_size": true}', ["config.json", "per_device_train_batch_size"])
config("fraction for an int", b'{"per_device_train_batch_size": 2.5}', ["config.json", "per_device_train_batch_size"])
config("int beyond int", b'{"per_device_train_batch_size": 100000000000}', ["config.json", "per_device_train_batch_size"])
config("number beyond a double", b'{"learning_rate": 1e400}', ["config.json", "1e400"])
config("NaN", b'{"learning_rate": NaN}', ["learning_rate", "finite"])
config("Infinity", b'{"max_grad_norm": Infinity}', ["max_grad_norm", "finite"])
config("negative seed", b'{"seed": -1}', ["config.json", "seed"])
config("huge seed", b'{"seed": 1e30}', ["config.json", "seed"])
config("string for a list", b'{"report_to": 5}', ["config.json", "report_to"])
config("unknown enum", b'{"lr_scheduler_type": "sawtooth"}', ["config.json", "lr_scheduler_type", "sawtooth"])
config("enum as number", b'{"eval_strategy": 3}', ["config.json", "eval_strategy"])
config("nested 80 KB", NESTED, ["config.json", "nest"])
config("nested objects", NESTED_OBJECT, ["config.json", "nest"])
config("nested inside a value", b'{"learning_rate": ' + NESTED + b"}", ["config.json", "nest"])
config("NUL byte", b'{"learning_rate": 0.1,\x00 "seed": 1}', ["config.json"])
config("NUL in a key", b'{"learn\x00ing_rate": 0.1}', ["config.json"])
config("invalid UTF-8", b'{"output_dir": "\xff\xfe"}', ["config.json", "UTF-8"])
config("binary garbage", GARBAGE, ["config.json"])
config("64 KiB of garbage", BIG_GARBAGE, ["config.json"])
config("64 KiB key", b'{"' + b"k" * 65536 + b'": 1}', ["config.json", "unknown key"])
config("example field invalid", b'{"hidden_size": 0}', ["hidden_size", "at least 1"])
config("example field wrong type", b'{"eval_fraction": "most"}', ["config.json", "eval_fraction"])
config("example field out of range", b'{"eval_fraction": 2}', ["eval_fraction", "between 0 and 1"])
config("missing file", None, ["no_such.json"], file_name="no_such.json",
       make_path=lambda c: str(c.folder / "no_such.json"))
config("a folder", None, ["folder.json"], file_name="folder.json",
       make_path=lambda c: (c.folder.joinpath("folder.json").mkdir(), str(c.folder / "folder.json"))[1])
config("--config missing", None, ["absent.json"], file_name="absent.json",
       make_path=lambda c: "--config=" + str(c.folder / "absent.json"))
config("duplicate key, bad second value", b'{"learning_rate": 0.1, "learning_rate": -1}', ["learning_rate"])


# --- CSV data (digits --data) ---------------------------------------------------------------

def csv(name, content, words, file_name="data.csv", make_path=None):
    def make(c):
        path = make_path(c) if make_path else c.write(file_name, content(c) if callable(content) else content)
        return c.digits(data=path)
    CASES.append(Case("csv", name, make, words))


def rows(c, n=40):
    return c.fixtures.digits_lines[:n]


def with_line(n, change):
    """The first 40 lines of digits, line n (1-based) changed."""
    def content(c):
        lines = list(rows(c))
        lines[n - 1] = change(lines[n - 1])
        return b"\n".join(lines) + b"\n"
    return content


def cell(i, value):
    def change(line):
        cells = line.split(b",")
        cells[i] = value
        return b",".join(cells)
    return change


import gzip  # noqa: E402

csv("empty file", b"", ["data.csv", "empty"])
csv("one newline", b"\n", ["data.csv"])
csv("three columns", b"1,2,3\n4,5,6\n7,8,9\n", ["data.csv", "65 columns"])
csv("ragged row", with_line(7, lambda l: l.rsplit(b",", 3)[0]), ["data.csv:7", "fields", "fix or drop"])
csv("extra column", with_line(5, lambda l: l + b",3"), ["data.csv:5", "fields", "fix or drop"])
csv("word in a cell", with_line(3, cell(10, b"x")), ["data.csv:3", "field 11", "'x'"])
csv("empty cell", with_line(4, cell(2, b"")), ["data.csv:4", "field 3"])
csv("nan cell", with_line(6, cell(5, b"nan")), ["data.csv:6", "field 6", "nan"])
csv("inf cell", with_line(6, cell(0, b"inf")), ["data.csv:6", "field 1", "inf"])
csv("-inf cell", with_line(6, cell(0, b"-inf")), ["data.csv:6", "field 1"])
csv("1e400 cell", with_line(8, cell(1, b"1e400")), ["data.csv:8", "field 2", "1e400"])
csv("hex cell", with_line(8, cell(1, b"0x10")), ["data.csv:8", "field 2"])
csv("label 10", with_line(2, cell(64, b"10")), ["data.csv", "digits 0 to 9"])
csv("label negative", with_line(2, cell(64, b"-1")), ["data.csv", "digits 0 to 9"])
csv("label fraction", with_line(2, cell(64, b"2.5")), ["data.csv", "digits 0 to 9"])
csv("NUL byte", with_line(9, lambda l: l[:5] + b"\x00" + l[5:]), ["data.csv:9"])
csv("invalid UTF-8", with_line(9, cell(3, b"\xff\xfe")), ["data.csv:9", "field 4"])
csv("binary garbage", GARBAGE, ["data.csv"])
csv("64 KiB of garbage", BIG_GARBAGE, ["data.csv"])
csv("one line of 1 MB", b"1," * 500_000 + b"1\n", ["data.csv", "columns"])
csv("80 KB of brackets", NESTED, ["data.csv"])
csv("quoted cells", with_line(1, lambda l: b'"' + l.replace(b",", b'","') + b'"'), ["data.csv:1"])
csv("semicolons", lambda c: b"\n".join(l.replace(b",", b";") for l in rows(c)) + b"\n", ["data.csv"])
csv("only one row", lambda c: rows(c, 1)[0] + b"\n", ["data.csv", "--eval_fraction", "more images"])
csv("header row", lambda c: b",".join(b"p%d" % i for i in range(64)) + b",label\n" + b"\n".join(rows(c)) + b"\n",
    ["data.csv:1"])
csv("gz truncated", lambda c: gzip.compress(b"\n".join(rows(c)) + b"\n")[:300], ["data.csv.gz"], file_name="data.csv.gz")
csv("gz empty", b"", ["data.csv.gz"], file_name="data.csv.gz")
csv("gz of garbage", lambda c: gzip.compress(BIG_GARBAGE), ["data.csv.gz"], file_name="data.csv.gz")
csv("missing file", None, ["no_such.csv", "no such file"], make_path=lambda c: str(c.folder / "no_such.csv"))
csv("a folder", None, ["is a folder", "name a file"], make_path=lambda c: str(c.folder))
csv("empty path", None, ["--data"], make_path=lambda c: "")
csv("unreadable (a socket path in /proc)", None, ["/proc/self/mem"], make_path=lambda c: "/proc/self/mem")


# --- Checkpoints to resume from (digits --resume_from_checkpoint) ---------------------------

# The optimizers of the valid checkpoints the cases damage, each with its flags.
def galore(rank):
    return ["--optim_target_modules", "hidden", "--optim_args", f"rank={rank},update_proj_gap=2"]


CHECKPOINT_OPTIMIZERS = {"adamw_torch": [], "sgd": [], "galore_adamw": galore(2)}


def checkpoint(name, edit, words, manifest=True, optim="adamw_torch", extra=(), rc=1, absent=(), latest=False):
    """Resumes digits from a damaged copy of a valid checkpoint-2. With manifest=True the
    manifest is rewritten for the damaged files, so that the file's own reader meets the damage."""
    def make(c):
        folder = c.checkpoint(optim)
        if edit:
            edit(folder)
        if manifest and (folder / "checkpoint_manifest.json").is_file():
            update_manifest(folder)
        return c.digits("--resume_from_checkpoint", "true" if latest else str(folder), "--max_steps", "4", "--save_steps", "2",
                        "--eval_steps", "2", "--logging_steps", "1", *extra)
    CASES.append(Case("checkpoint", name, make, words, rc, absent=absent))


# Damage the manifest sees: each file changed behind its back.
for file in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json",
             "loop_state.pt"):
    checkpoint(f"{file} truncated", truncate(file), [file, "truncated"], manifest=False)
    checkpoint(f"{file} byte flipped", flip(file), [file, "checksum"], manifest=False)
    checkpoint(f"{file} missing", remove(file), [file, "missing"], manifest=False)
    checkpoint(f"{file} a folder", folder_for_file(file), [file], manifest=False)
checkpoint("folder missing", lambda f: shutil.rmtree(f), ["checkpoint-2", "no such checkpoint folder"], manifest=False)
checkpoint("a file for the folder", lambda f: (shutil.rmtree(f), f.write_text("x")), ["checkpoint-2", "folder"],
           manifest=False)
checkpoint("folder empty", lambda f: [p.unlink() for p in f.iterdir()], ["checkpoint-2", "not a complete"],
           manifest=False)
checkpoint("manifest missing", remove("checkpoint_manifest.json"), ["checkpoint-2", "checkpoint_manifest.json"],
           manifest=False)
checkpoint("manifest empty", replace("checkpoint_manifest.json", b""), ["checkpoint_manifest.json"], manifest=False)
checkpoint("manifest {}", replace("checkpoint_manifest.json", b"{}"), ["checkpoint_manifest.json"], manifest=False)
checkpoint("manifest garbage", replace("checkpoint_manifest.json", GARBAGE), ["checkpoint_manifest.json"], manifest=False)
checkpoint("manifest nested", replace("checkpoint_manifest.json", NESTED), ["checkpoint_manifest.json", "nest"],
           manifest=False)
checkpoint("manifest size 1e400", json_text("checkpoint_manifest.json", lambda t: t.replace(b'"size": 39944', b'"size": 1e400', 1)),
           ["checkpoint_manifest.json", "1e400"], manifest=False)
checkpoint("manifest size negative",
           edit_json("checkpoint_manifest.json", lambda m: m["model.safetensors"].update(size=-1)),
           ["checkpoint_manifest.json"], manifest=False)
checkpoint("manifest crc a string",
           edit_json("checkpoint_manifest.json", lambda m: m["model.safetensors"].update(crc32="abc")),
           ["checkpoint_manifest.json"], manifest=False)

# Damage the manifest agrees with: the readers of each file must see it.
checkpoint("model.safetensors empty", replace("model.safetensors", b""), ["model.safetensors"])
checkpoint("model.safetensors truncated (manifest agrees)", truncate("model.safetensors", 0.7), ["model.safetensors"])
checkpoint("model.safetensors garbage", replace("model.safetensors", GARBAGE), ["model.safetensors"])
checkpoint("model.safetensors 64 KiB garbage", replace("model.safetensors", BIG_GARBAGE), ["model.safetensors"])
checkpoint("safetensors header length huge", safetensors_raw(lambda d: struct.pack("<Q", 1 << 60) + d[8:]),
           ["model.safetensors", "header"])
checkpoint("safetensors header length zero", safetensors_raw(lambda d: struct.pack("<Q", 0) + d[8:]),
           ["model.safetensors", "header"])
checkpoint("safetensors header not JSON", safetensors_header(lambda h: b"{not json" + b" " * 10), ["model.safetensors"])
checkpoint("safetensors header nested", safetensors_header(lambda h: NESTED[:20000] + NESTED[-20000:]),
           ["model.safetensors", "nest"])
checkpoint("safetensors header 1e400",
           safetensors_header(lambda h: json.dumps(h).encode().replace(b"[128]", b"[1e400]", 1)),
           ["model.safetensors", "1e400"])
checkpoint("safetensors header NUL",
           safetensors_header(lambda h: json.dumps(h).encode().replace(b'"F32"', b'"F\x0032"', 1)),
           ["model.safetensors"])
checkpoint("safetensors header invalid UTF-8",
           safetensors_header(lambda h: json.dumps(h).encode().replace(b'"F32"', b'"F\xff2"', 1)),
           ["model.safetensors"])
checkpoint("safetensors dtype relabelled I32", safetensors_header(tensor_field("hidden.weight", "dtype", "I32")),
           ["model.safetensors", "hidden.weight", "I32"])
checkpoint("safetensors dtype relabelled F16 (size mismatch)",
           safetensors_header(tensor_field("hidden.weight", "dtype", "F16")), ["model.safetensors", "hidden.weight"])
checkpoint("safetensors dtype unknown", safetensors_header(tensor_field("hidden.weight", "dtype", "Q7")),
           ["model.safetensors", "Q7"])
checkpoint("safetensors shape changed", safetensors_header(tensor_field("hidden.weight", "shape", [64, 128])),
           ["model.safetensors", "hidden.weight", "shape"])
checkpoint("safetensors shape negative", safetensors_header(tensor_field("hidden.bias", "shape", [-128])),
           ["model.safetensors", "hidden.bias"])
checkpoint("safetensors offsets beyond the file",
           safetensors_header(tensor_field("output.weight", "data_offsets", [34344, 99999999])),
           ["model.safetensors", "output.weight"])
checkpoint("safetensors offsets reversed",
           safetensors_header(tensor_field("hidden.bias", "data_offsets", [512, 0])), ["model.safetensors", "hidden.bias"])
checkpoint("safetensors offsets huge",
           safetensors_header(tensor_field("hidden.bias", "data_offsets", [0, 2 ** 64 - 1])),
           ["model.safetensors", "hidden.bias"])
checkpoint("safetensors tensor missing", safetensors_header(lambda h: h.pop("norm.weight") and None),
           ["model.safetensors", "belong to no tensor"])
checkpoint("safetensors extra tensor",
           safetensors_header(lambda h: h.update({"extra.weight": dict(h["output.bias"])})),
           ["model.safetensors", "extra.weight"])
checkpoint("hidden_size differs", None, ["hidden.weight", "shape"], extra=("--hidden_size", "64"))
checkpoint("trainer_state.json {}", replace("trainer_state.json", b"{}"), ["trainer_state.json", "global_step"])
checkpoint("trainer_state.json empty", replace("trainer_state.json", b""), ["trainer_state.json"])
checkpoint("trainer_state.json garbage", replace("trainer_state.json", GARBAGE), ["trainer_state.json"])
checkpoint("trainer_state.json nested", replace("trainer_state.json", NESTED), ["trainer_state.json", "nest"])
checkpoint("trainer_state.json global_step -5", edit_json("trainer_state.json", set_key("global_step", -5)),
           ["trainer_state.json", "global_step", "-5"])
checkpoint("trainer_state.json global_step string", edit_json("trainer_state.json", set_key("global_step", "ten")),
           ["trainer_state.json", "global_step"])
checkpoint("trainer_state.json global_step 1e400",
           json_text("trainer_state.json", lambda t: t.replace(b'"global_step": 2', b'"global_step": 1e400', 1)),
           ["trainer_state.json", "1e400"])
checkpoint("trainer_state.json global_step huge",
           edit_json("trainer_state.json", set_key("global_step", 10 ** 30)), ["trainer_state.json", "global_step"])
checkpoint("trainer_state.json epoch NaN",
           json_text("trainer_state.json", lambda t: t.replace(b'"epoch": ', b'"epoch": NaN, "x": ', 1)),
           ["trainer_state.json", "epoch"])
checkpoint("trainer_state.json log_history not a list", edit_json("trainer_state.json", set_key("log_history", 5)),
           ["trainer_state.json", "log_history"])
checkpoint("trainer_state.json an array", replace("trainer_state.json", b"[]"), ["trainer_state.json"])
checkpoint("trainer_state.json NUL", json_text("trainer_state.json", lambda t: t[:30] + b"\x00" + t[30:]),
           ["trainer_state.json"])
checkpoint("trainer_state.json invalid UTF-8",
           json_text("trainer_state.json", lambda t: t.replace(b'"best_model_checkpoint": "', b'"best_model_checkpoint": "\xff', 1)),
           ["trainer_state.json"])
def a_saved_early_stopping(d):
    d["stateful_callbacks"]["EarlyStoppingCallback"] = {
        "args": {"early_stopping_patience": 2, "early_stopping_threshold": 0.0},
        "attributes": {"early_stopping_patience_counter": 1}}


# digits has no EarlyStopping: its saved state is left, with Python's warning, and training goes on.
checkpoint("trainer_state.json a callback state this run has no callback for",
           edit_json("trainer_state.json", a_saved_early_stopping),
           ["trainer_state.json", "EarlyStoppingCallback", "ignoring it"], rc=0,
           extra=("--restore_callback_states_from_checkpoint", "true"))
checkpoint("optimizer.pt empty", replace("optimizer.pt", b""), ["optimizer.pt"])
checkpoint("optimizer.pt truncated (manifest agrees)", truncate("optimizer.pt"), ["optimizer.pt"])
checkpoint("optimizer.pt garbage", replace("optimizer.pt", GARBAGE), ["optimizer.pt"])
checkpoint("optimizer.pt 64 KiB garbage", replace("optimizer.pt", BIG_GARBAGE), ["optimizer.pt"])
checkpoint("scheduler.pt garbage", replace("scheduler.pt", GARBAGE), ["scheduler.pt"])
checkpoint("scheduler.pt empty", replace("scheduler.pt", b""), ["scheduler.pt"])
checkpoint("rng_state.pth garbage", replace("rng_state.pth", GARBAGE), ["rng_state.pth"])
checkpoint("rng_state.pth truncated (manifest agrees)", truncate("rng_state.pth"), ["rng_state.pth"])
checkpoint("loop_state.pt garbage", replace("loop_state.pt", GARBAGE), ["loop_state.pt"])
checkpoint("loop_state.pt empty", replace("loop_state.pt", b""), ["loop_state.pt"])
checkpoint("sgd checkpoint resumed with adamw", None, ["optimizer.pt", "sgd", "adamw"], optim="sgd",
           absent=["INTERNAL ASSERT"])
checkpoint("adamw checkpoint resumed with sgd", None, ["optimizer.pt", "sgd", "adamw"], extra=("--optim", "sgd"))
checkpoint("adamw checkpoint resumed with adafactor", None, ["optimizer.pt", "adafactor"],
           extra=("--optim", "adafactor"))
def sgd_momentum_buffer_of_another_shape(state_dict):
    import torch
    state_dict["param_groups"][0]["momentum"] = 0.9
    state_dict["state"][0] = {"momentum_buffer": torch.zeros(3)}


checkpoint("optimizer.pt: an SGD momentum buffer of another shape", state_dict_edit("optimizer.pt", sgd_momentum_buffer_of_another_shape),
           ["optimizer.pt", "momentum_buffer", "has shape [3] for a parameter of shape"], optim="sgd",
           extra=("--optim", "sgd"))
checkpoint("scheduler.pt last_epoch -5", state_dict_edit("scheduler.pt", lambda d: d.update(last_epoch=-5)),
           ["scheduler.pt", "last_epoch", "-5"])
checkpoint("galore checkpoint resumed with another rank", None, ["optimizer.pt", "ortho_matrix", "[2, 64]", "[1, 64]"],
           optim="galore_adamw", extra=("--optim", "galore_adamw", *galore(1)))
checkpoint("resume latest: only damaged checkpoints", truncate("model.safetensors"), ["model.safetensors"],
           manifest=False, latest=True)


# --- Results left over in output_dir (read when the run ends) ------------------------------

def leftover(name, content, words):
    def make(c):
        c.write("out/all_results.json", content)
        return c.digits()
    CASES.append(Case("results", name, make, words))


leftover("all_results.json nested", NESTED, ["all_results.json", "nest"])
leftover("all_results.json 1e400", b'{"eval_loss": 1e400}', ["all_results.json", "1e400"])
leftover("all_results.json garbage", GARBAGE, ["all_results.json"])
leftover("all_results.json an array", b"[1, 2, 3]", ["all_results.json"])


# --- Launch misuse -------------------------------------------------------------------------

def launch(name, make_args, words, rc=1, env=None):
    CASES.append(Case("launch", name, make_args, words, rc, env))


def digits_under(env):
    return lambda c: c.digits()


launch("Trainer<> as rank 0 of 2 (torchrun variables)", digits_under(None),
       ["rank 0 of 2", "no distributed strategy", "Trainer<DDP>"],
       env={"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29555"})
launch("Trainer<> as rank 0 of 2 without MASTER_ADDR", digits_under(None), ["rank 0 of 2", "Trainer<DDP>"],
       env={"WORLD_SIZE": "2", "RANK": "0"})
launch("Trainer<> as rank 1 of 2 (Open MPI variables)", digits_under(None), ["rank 1 of 2", "Trainer<DDP>"],
       env={"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"})
launch("RANK without WORLD_SIZE", digits_under(None), ["RANK", "WORLD_SIZE"], env={"RANK": "0"})
launch("WORLD_SIZE 0", digits_under(None), ["WORLD_SIZE"], env={"RANK": "0", "WORLD_SIZE": "0"})
launch("RANK not below WORLD_SIZE", digits_under(None), ["RANK=5", "WORLD_SIZE=2"], env={"RANK": "5", "WORLD_SIZE": "2"})
launch("RANK not a number", digits_under(None), ["RANK=abc", "whole number"], env={"RANK": "abc", "WORLD_SIZE": "2"})
launch("LOCAL_RANK negative", digits_under(None), ["LOCAL_RANK"],
       env={"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "-1"})
launch("torchtrain-launch two ranks of a Trainer<>",
       lambda c: [str(c.fixtures.launch), "--nproc_per_node", "2", "--grace_period", "5", *c.digits()],
       ["no distributed strategy", "Trainer<DDP>"])
launch("torchtrain-launch nproc_per_node 0", lambda c: [str(c.fixtures.launch), "--nproc_per_node", "0", "true"],
       ["--nproc_per_node", "whole number"], rc=2)
launch("torchtrain-launch nproc_per_node word", lambda c: [str(c.fixtures.launch), "--nproc_per_node", "two", "true"],
       ["--nproc_per_node", "two"], rc=2)
launch("torchtrain-launch no program", lambda c: [str(c.fixtures.launch), "--nproc_per_node", "1"],
       ["no program"], rc=2)
launch("torchtrain-launch missing program",
       lambda c: [str(c.fixtures.launch), "--nproc_per_node", "1", "./no_such_program"],
       ["no_such_program", "cannot run"], rc=127)
launch("torchtrain-launch node_rank beyond nnodes",
       lambda c: [str(c.fixtures.launch), "--nproc_per_node", "1", "--nnodes", "2", "--node_rank", "2", "true"],
       ["--node_rank", "--nnodes"], rc=2)
launch("torchtrain-launch unknown flag", lambda c: [str(c.fixtures.launch), "--nproc", "2", "true"],
       ["--nproc", "unknown flag"], rc=2)
