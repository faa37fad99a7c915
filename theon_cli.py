"""The `theon` command's front end: parse and check every argument, then start the work.

    theon train lenet --dataset fashion-mnist --epochs 5 --batch-size 64 --out runs/lenet
    theon train --resume runs/lenet --epochs 10     # continue (epochs is the total)
    theon train lenet --nproc 2                     # data-parallel over 2 local processes
    theon train mlp --tensorboard runs/tb/mlp       # curves, histograms and graph for TensorBoard
    theon evaluate --checkpoint runs/lenet
    theon convert model.onnx --check --to safetensors weights.safetensors
    theon profile lenet --batch-size 64 --repeat 10 --trace lenet-trace.json
    theon info
    theon bench --workloads lenet,mlp --threads 2,1 --json
    theon convert deploy.prototxt weights.caffemodel --check --to safetensors
    theon convert emotion_model.hdf5 --check
    theon finetune --from emotion_model.hdf5 --cut add_4 --dataset fashion-mnist --labels 1000 \
        --epochs 5 --input-range=-1,1 --out clothes.safetensors

This module lives outside the `theon` package on purpose: importing `theon` imports torch,
which takes seconds, and `theon --help` or a mistyped argument should answer at once. So it
imports nothing but the standard library, checks every argument it can check without torch
(each mistake is one line on stderr and exit status 2), and only then imports theon.cli,
which does the work (and checks what needs torch: whether a CUDA device exists).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

MODELS = ("lenet", "mlp", "lstm")
# `theon convert` reads these formats, told apart by the first file's extension:
# format -> (extensions, (fewest, most) files, usage). theon/convert.py reads ONNX files
# (a new format there is one line here and its reader); theon/caffe reads Caffe models.
CONVERT_FORMATS = {
    "onnx": ((".onnx",), (1, 1), "MODEL.onnx"),
    "caffe": ((".prototxt", ".pbtxt", ".txt"), (1, 2), "deploy.prototxt [weights.caffemodel]"),
    "keras": ((".h5", ".hdf5", ".keras"), (1, 1), "model.h5 (or .hdf5, .keras)"),
}
CONVERT_TARGETS = {"safetensors": ".safetensors", "onnx": ".onnx"}  # --to FORMAT -> default suffix
CAFFE_TARGETS = ("safetensors",)  # a Caffe or Keras model becomes a theon model file
DATASETS = ("fashion-mnist", "mnist", "digits")
# `theon finetune --from` reads these, by extension (or a training checkpoint's folder)
FINETUNE_SOURCES = {"keras": (".h5", ".hdf5", ".keras"), "onnx": (".onnx",), "theon": (".safetensors",)}
# `theon bench`'s workloads and peers (benchmarks/workloads.py holds them; a test keeps these equal)
BENCH_WORKLOADS = ("lenet-train-64", "lenet-train-256", "lenet-infer-256", "mlp-adam-128", "lstm-lm")
BENCH_PEERS = ("torch-compile", "torch-compile-reduce-overhead", "torch-lstmcell", "tensorflow", "jax")
USAGE_ERROR = 2  # exit status for a bad command line, as argparse uses
_DEVICE_RE = re.compile(r"cpu|cuda(:\d+)?")


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is reported in one line (argparse prints the usage first)."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole_number(text: str, lowest: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    return _whole_number(text, 1, "a whole number >= 1")


def seed_value(text: str) -> int:
    """An argparse type: a seed, a whole number in [0, 2**63)."""
    value = _whole_number(text, 0, "a whole number >= 0")
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed below 2**63, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def device_name(text: str) -> str:
    """An argparse type: 'cpu', 'cuda' or 'cuda:N' (whether it exists is checked with torch)."""
    if not _DEVICE_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def _name_list(text: str, names: tuple, what: str, prefixes: bool = False) -> list:
    items = [t.strip() for t in text.split(",")]
    for item in items:
        known = item in names or (prefixes and any(n.startswith(item + "-") for n in names))
        if not known:
            raise argparse.ArgumentTypeError(f"unknown {what} {item!r}; choose from {', '.join(names)}")
    return items


def workload_list(text: str) -> list:
    """An argparse type: comma-separated workload names, or prefixes of them ('lenet')."""
    return _name_list(text, BENCH_WORKLOADS, "workload", prefixes=True)


def peer_list(text: str) -> list:
    """An argparse type: comma-separated peer names; 'none' for torch eager alone."""
    return [] if text.strip() == "none" else _name_list(text, BENCH_PEERS, "peer")


def thread_list(text: str) -> list:
    """An argparse type: comma-separated torch thread counts, each >= 1."""
    return [positive_int(t.strip()) for t in text.split(",")]


def named_value(text: str) -> tuple:
    """An argparse type: NAME=VALUE."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def dim_size(text: str) -> tuple:
    """An argparse type: NAME=SIZE, a symbolic dim's size."""
    name, value = named_value(text)
    return name, _whole_number(value, 1, f"a whole number >= 1 for {name}")


def convert_format(path: str):
    """The `theon convert` input format of a file, by its extension (None if unknown)."""
    suffix = Path(path).suffix.lower()
    return next((f for f, (exts, _, _) in CONVERT_FORMATS.items() if suffix in exts), None)


def value_range(text: str) -> tuple:
    """An argparse type: LOW,HIGH, two finite numbers with LOW < HIGH."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (two numbers: -1,1), got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise argparse.ArgumentTypeError(f"expected finite LOW < HIGH, got {text!r}")
    return low, high


def finetune_source(path: str):
    """The `theon finetune --from` format of a path (None if unknown): a folder is a
    training checkpoint."""
    if Path(path).is_dir():
        return "checkpoint"
    suffix = Path(path).suffix.lower()
    return next((f for f, exts in FINETUNE_SOURCES.items() if suffix in exts), None)


def input_shape(text: str) -> tuple:
    """An argparse type: a shape without the batch dim, e.g. 3,224,224."""
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers joined by commas (3,224,224), got {text!r}") \
            from None
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected positive dims, got {text!r}")
    return dims


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="theon", description="theon: train, evaluate and profile models, measure speed, convert "
                                          "model files, show the set-up")
    sub = p.add_subparsers(dest="command", required=True,
                           metavar="{train,evaluate,bench,profile,convert,finetune,info}")

    t = sub.add_parser("train", help="train a built-in model",
                       description="Train a built-in model; keep a resumable checkpoint, "
                                   "history.csv and the training curves in --out.")
    t.add_argument("model", nargs="?", choices=MODELS,
                   help="lenet, mlp or lstm (default: the checkpoint's with --resume)")
    t.add_argument("--dataset", choices=DATASETS, default=None, help="default fashion-mnist")
    t.add_argument("--epochs", type=positive_int, default=5,
                   help="total epochs (a resumed run continues up to it); default 5")
    t.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    t.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default 0.01 for SGD with momentum 0.9; lstm: Adam, 2e-3)")
    t.add_argument("--device", type=device_name, default=None,
                   help="cpu, cuda or cuda:N (default: THEON_DEVICE, else CUDA if present)")
    t.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default runs/MODEL, or the --resume folder)")
    t.add_argument("--resume", default=None, metavar="DIR", help="continue the run saved in DIR")
    t.add_argument("--seed", type=seed_value, default=None,
                   help="initialisation and shuffling seed (default 0)")
    t.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="train on the first N training examples only")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    t.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="train data-parallel in N local processes (one per GPU on CUDA), "
                        "launched through torch.distributed.run; --batch-size is the global batch")
    t.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard event files to DIR (scalars, weight histograms, the "
                        "step's graph; needs pip install 'theon[tensorboard]'); view: tensorboard --logdir DIR")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a test set",
                       description="Evaluate a training checkpoint on a test set.")
    e.add_argument("--checkpoint", required=True, metavar="DIR")
    e.add_argument("--dataset", choices=DATASETS, default=None,
                   help="default: the one it was trained on")
    e.add_argument("--batch-size", type=positive_int, default=256, help="default 256")
    e.add_argument("--device", type=device_name, default=None,
                   help="cpu, cuda or cuda:N (default: THEON_DEVICE, else CUDA if present)")

    b = sub.add_parser("bench", help="theon's speed and memory against PyTorch and other peers",
                       description="Measure training and inference steps of LeNet-5, an MLP and an LSTM "
                                   "language model in theon and every installed peer, from the same "
                                   "weights on the same data: examples/s and the ratio to PyTorch eager "
                                   "(alternating windows in one process), time to the first step and peak "
                                   "memory (a fresh process each), and whether the losses agree.")
    b.add_argument("--workloads", type=workload_list, default=None, metavar="LIST",
                   help=f"comma-separated, names or prefixes (lenet, lenet-train); default all: "
                        f"{', '.join(BENCH_WORKLOADS)}")
    b.add_argument("--peers", type=peer_list, default=None, metavar="LIST",
                   help=f"besides torch eager, which always runs: comma-separated from "
                        f"{', '.join(BENCH_PEERS)}, or none; default every one that applies "
                        f"(reduce-overhead on CUDA only, the LSTMCell loop for the LSTM)")
    b.add_argument("--device", type=device_name, default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    b.add_argument("--threads", type=thread_list, default=None, metavar="N[,N...]",
                   help="torch threads (torch.set_num_threads) in every process; several run one after "
                        "another (2,1); default torch's own")
    b.add_argument("--quick", action="store_true", help="a short run: 5 rounds of 0.1 s windows, 2 steps checked")
    b.add_argument("--rounds", type=positive_int, default=None, metavar="N",
                   help="alternating rounds per workload (default 15, --quick 5)")
    b.add_argument("--repeat", type=positive_int, default=None, metavar="N",
                   help="fresh processes per contender for first step and memory; the median shows "
                        "(default 1)")
    b.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    b.add_argument("--save", default=None, metavar="FILE", help="also write the results as JSON to FILE")

    pr = sub.add_parser("profile", help="time each op of a built-in model's step",
                        description="Profile one training (or prediction) step of a built-in model "
                                    "on a random batch shaped like the data set's: time, calls and "
                                    "memory per op, sorted by time; optionally a Chrome trace.")
    pr.add_argument("model", choices=MODELS, help="lenet, mlp or lstm")
    pr.add_argument("--dataset", choices=DATASETS, default="fashion-mnist",
                    help="the input shape to profile at (default fashion-mnist); no data is read")
    pr.add_argument("--step", choices=("train", "predict"), default="train",
                    help="the training step (forward, gradients, updates) or prediction; default train")
    pr.add_argument("--batch-size", type=positive_int, default=64, help="default 64")
    pr.add_argument("--repeat", type=positive_int, default=10, help="timed runs (default 10)")
    pr.add_argument("--device", type=device_name, default=None,
                    help="cpu, cuda or cuda:N (default: THEON_DEVICE, else CUDA if present)")
    pr.add_argument("--rows", type=positive_int, default=30, help="rows to print (default 30)")
    pr.add_argument("--trace", default=None, metavar="FILE",
                    help="also write a Chrome trace (open in chrome://tracing or ui.perfetto.dev)")

    usage = ", ".join(u for _, _, u in CONVERT_FORMATS.values())
    c = sub.add_parser("convert", help="inspect, check and convert a model file (ONNX, Caffe or Keras)",
                       description=f"Load a model file ({usage}). An ONNX file: print its inputs and "
                                   f"outputs, op histogram, unsupported ops, parameter count and memory "
                                   f"estimate; with --check run it on random inputs and compare with "
                                   f"onnxruntime; with --to write it in another format. A Caffe model "
                                   f"(its deploy prototxt and caffemodel weights): write it as a theon model "
                                   f"file (weights in safetensors, the config in its metadata); with --check "
                                   f"read it back and compare with OpenCV's Caffe runtime. A Keras model (.h5/.hdf5 written by "
                                   f"model.save, or .keras): the same, checked against Keras.")
    c.add_argument("files", nargs="+", metavar="FILE", help=usage)
    c.add_argument("--check", action="store_true",
                   help="run the model and report the largest difference per output from the reference "
                        "runtime, if installed (exit status 1 past 1e-4 relative)")
    c.add_argument("--to", nargs="+", metavar=("FORMAT", "OUT"), default=None,
                   help=f"write the model as FORMAT (ONNX: {' or '.join(CONVERT_TARGETS)}: its weights, or the "
                        f"model exported again; Caffe: {' or '.join(CAFFE_TARGETS)}, a theon model file, the "
                        f"default) to OUT (default: the model's name with the format's suffix, here)")
    c.add_argument("--out", default=None, metavar="PATH", help="where --to writes (the same as its OUT)")
    c.add_argument("--input", action="append", type=named_value, default=[], metavar="NAME=FILE.npy",
                   help="ONNX: run on this array (a .npy file) for input NAME instead of random values")
    c.add_argument("--dim", action="append", type=dim_size, default=[], metavar="NAME=SIZE",
                   help="ONNX: size of a symbolic dim for random inputs (default 1 for a first dim, else 64)")
    c.add_argument("--seed", type=seed_value, default=0, help="ONNX: seed of the random inputs (default 0)")
    c.add_argument("--input-shape", type=input_shape, default=None, metavar="C,H,W",
                   help="Caffe: the input's shape without the batch dim, where the prototxt does not give it")

    f = sub.add_parser("finetune", help="fine-tune a pretrained model on a data set (transfer learning)",
                       description="Load a model (Keras .h5/.hdf5/.keras, ONNX, a theon model file or a "
                                   "training checkpoint's folder), cut it at the layer --cut, freeze that "
                                   "trunk, put a new head on it (global average pooling of feature maps, "
                                   "then a Dense layer with one output per class) and train the head on "
                                   "--labels examples of the data set (resized to the model's input); "
                                   "then, with --unfreeze-epochs, train everything at a tenth of the "
                                   "rate. Prints the test accuracy and writes the model to --out.")
    f.add_argument("--from", dest="source", required=True, metavar="MODEL",
                   help="the pretrained model: " + ", ".join(e for exts in FINETUNE_SOURCES.values()
                                                             for e in exts) + ", or a checkpoint folder")
    f.add_argument("--cut", required=True, metavar="LAYER",
                   help="the layer whose output the new head reads (its name in the model)")
    f.add_argument("--dataset", choices=DATASETS, default="fashion-mnist", help="default fashion-mnist")
    f.add_argument("--labels", type=positive_int, default=None, metavar="N",
                   help="train on N labelled examples (a seeded random choice; default: all)")
    f.add_argument("--epochs", type=positive_int, default=5, help="epochs with the trunk frozen; default 5")
    f.add_argument("--unfreeze-epochs", type=lambda t: _whole_number(t, 0, "a whole number >= 0"),
                   default=0, metavar="N", help="then N epochs with everything trainable; default 0")
    f.add_argument("--batch-size", type=positive_int, default=32, help="default 32")
    f.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate; default 1e-3")
    f.add_argument("--input-range", type=value_range, default=(0.0, 1.0), metavar="LOW,HIGH",
                   help="scale the images from [0, 1] to this range (what the model was trained on; "
                        "fer's mini-Xception: --input-range=-1,1); default 0,1")
    f.add_argument("--test-limit", type=positive_int, default=None, metavar="N",
                   help="measure the accuracy on the first N test examples only")
    f.add_argument("--out", default="finetuned.safetensors", metavar="FILE",
                   help="the fine-tuned model (a theon model file); default finetuned.safetensors")
    f.add_argument("--seed", type=seed_value, default=0, help="head initialisation, choice and shuffling seed")
    f.add_argument("--device", type=device_name, default=None,
                   help="cpu, cuda or cuda:N (default: THEON_DEVICE, else CUDA if present)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("info", help="versions, devices and the data sets found",
                   description="Print versions, devices and where the data sets were found.")
    return p


def _existing_folder(path: str, flag: str):
    """None if `path` is a folder, else what is wrong with it."""
    p = Path(path)
    if not p.exists():
        return f"{flag} {path}: no such folder"
    if not p.is_dir():
        return f"{flag} {path}: not a folder"
    return None


def _writable_folder(path: str, flag: str):
    """None if `path` is, or can be made, a folder we can write in; else what is wrong."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{flag} {path}: is a file, not a folder"
    ancestor = p
    while not ancestor.exists():  # the nearest part of the path that exists must be a folder
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{flag} {path}: {ancestor} is a file, so the folder cannot be made"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{flag} {path}: {ancestor} is not writable"
    return None


def _writable_file(path: str, flag: str, make_folder: bool = False):
    """None if a file can be written at `path`; else what is wrong. make_folder: its folder
    may be missing and will be made (else it must exist)."""
    p = Path(path)
    if p.is_dir():
        return f"{flag} {path}: is a folder, not a file"
    if p.parent.exists() and not p.parent.is_dir():
        return f"{flag} {path}: {p.parent} is a file, not a folder"
    if not make_folder:
        if not p.parent.is_dir():
            return f"{flag} {path}: no such folder {p.parent}"
        if not os.access(p.parent, os.W_OK | os.X_OK):
            return f"{flag} {path}: {p.parent} is not writable"
        return None
    problem = _writable_folder(str(p.parent), flag)
    return None if problem is None else f"{flag} {path}: {problem[len(f'{flag} {p.parent}: '):]}"


def check(args):
    """What is wrong with a parsed command line, beyond each argument's own type; else None."""
    env_device = os.environ.get("THEON_DEVICE")
    if args.command in ("train", "evaluate", "profile", "finetune") and args.device is None and env_device:
        try:
            device_name(env_device)
        except argparse.ArgumentTypeError as e:
            return f"THEON_DEVICE: {e}"
    if args.command == "train":
        if args.model is None and args.resume is None:
            return "name a model (lenet, mlp or lstm), or --resume a run"
        if args.resume is not None:
            problem = _existing_folder(args.resume, "--resume")
            if problem:
                return problem
        if args.out is not None:
            problem = _writable_folder(args.out, "--out")
            if problem:
                return problem
        if args.tensorboard is not None:
            return _writable_folder(args.tensorboard, "--tensorboard")
    elif args.command == "evaluate":
        return _existing_folder(args.checkpoint, "--checkpoint")
    elif args.command == "bench" and args.save is not None:
        return _writable_file(args.save, "--save", make_folder=True)
    elif args.command == "profile" and args.trace is not None:
        return _writable_file(args.trace, "--trace")
    elif args.command == "convert":
        return _check_convert(args)
    elif args.command == "finetune":
        return _check_finetune(args)
    return None


def _check_finetune(args):
    source = Path(args.source)
    if not source.exists():
        return f"--from {args.source}: no such file or folder"
    if finetune_source(args.source) is None:
        known = ", ".join(e for exts in FINETUNE_SOURCES.values() for e in exts)
        return f"--from {args.source}: not a model theon fine-tunes (by its extension: {known}, or a checkpoint folder)"
    if not args.cut.strip():
        return "--cut: give the name of a layer of the model"
    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        return f"--out {args.out}: the fine-tuned model is a theon model file; name it *.safetensors"
    if out.exists() and out.resolve() == source.resolve():
        return f"--out {args.out}: would overwrite the model being fine-tuned"
    return _writable_file(args.out, "--out", make_folder=True)


def _check_convert(args):
    for path in args.files:
        p = Path(path)
        if not p.exists():
            return f"{path}: no such file"
        if p.is_dir():
            return f"{path}: is a folder, not a file"
    fmt = convert_format(args.files[0])
    if fmt is None:
        known = ", ".join(e for exts, _, _ in CONVERT_FORMATS.values() for e in exts)
        return (f"{args.files[0]}: not a model file theon converts (by its extension: {known}; a Caffe model: "
                f"expected a Caffe .prototxt first, deploy.prototxt weights.caffemodel)")
    if fmt in ("caffe", "keras"):
        return _check_convert_caffe(args, fmt)
    _, (fewest, most), usage = CONVERT_FORMATS[fmt]
    if not fewest <= len(args.files) <= most:
        return f"{fmt} takes {usage}, got {len(args.files)} file(s)"
    if args.input_shape is not None:
        return "--input-shape is for Caffe models: an ONNX file gives its input shapes (--dim NAME=SIZE sets a symbolic one)"
    for name, path in args.input:
        if not Path(path).is_file():
            return f"--input {name}={path}: no such file"
        if Path(path).suffix != ".npy":
            return f"--input {name}={path}: expected a NumPy .npy file"
    if args.to is None:
        return "--out is where --to writes: give --to FORMAT" if args.out else None
    target, *rest = args.to
    if target not in CONVERT_TARGETS:
        return f"--to {target}: expected one of {', '.join(CONVERT_TARGETS)}"
    if len(rest) > 1 or (rest and args.out):
        return "--to takes FORMAT and at most one OUT (or --out OUT)"
    out = Path(rest[0] if rest else args.out or Path(args.files[-1]).stem + CONVERT_TARGETS[target])
    if out.is_dir():
        return f"--to {target} {out}: is a folder; give a file name"
    if any(out.resolve() == Path(f).resolve() for f in args.files):
        return f"--to {target} {out}: would overwrite the file being converted"
    args.to, args.out = target, str(out)
    return _writable_folder(str(out.parent), "--to") if str(out.parent) else None


def _check_convert_caffe(args, fmt="caffe"):
    if fmt == "keras":
        if len(args.files) > 1:
            return f"a Keras model is one file ({args.files[0]}), got {len(args.files)} files"
        if args.input_shape is not None:
            return "--input-shape is for Caffe models; a Keras model file gives its input shapes"
        if args.input or args.dim:
            return "--input and --dim are for ONNX files; a Keras model file gives its input shapes"
    elif len(args.files) > 2:
        return f"takes a prototxt and a caffemodel, got {len(args.files)} files"
    if args.input or args.dim:
        return "--input and --dim are for ONNX files; a Caffe model takes --input-shape C,H,W"
    target, *rest = args.to or ["safetensors"]
    if target not in CAFFE_TARGETS:
        return f"argument --to: invalid choice: {target!r} (a Caffe model converts to {', '.join(CAFFE_TARGETS)})"
    if len(rest) > 1 or (rest and args.out):
        return "--to takes FORMAT and at most one OUT (or --out OUT)"
    args.to, args.out = target, rest[0] if rest else args.out
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.is_dir():
            return f"--out {out}: is a folder; give a file name (model.safetensors)"
        return _writable_folder(str(out.parent), "--out")
    return None


def main(argv=None) -> int:
    """Run `theon ARGS` (argv: the arguments, default sys.argv[1:]); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a bad argument (2), already reported
        return done.code
    problem = check(args)
    if problem:
        print(f"theon {args.command}: {problem}", file=sys.stderr)
        return USAGE_ERROR
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --nproc to relaunch
    from theon import cli  # deferred on purpose: it imports torch, needed only from here on
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
