"""The work behind the `theon` command: train, evaluate and profile the built-in models,
measure theon against its peers (`bench`, which runs the benchmarks/ folder of this checkout),
inspect and convert model files (ONNX: theon/convert.py; Caffe: theon/caffe; Keras:
theon/keras), fine-tune a pretrained model on a data set (`finetune`: cut, freeze, new head),
describe the set-up. The command line itself (parsing, and every check that needs
no torch) is the top-level module theon_cli, so that `theon --help` answers without importing
torch; run(args) here takes its parsed, checked arguments.

`train` shows a progress bar (a line every few seconds when the output is not a terminal),
prints the test accuracy after each epoch, and keeps in --out a resumable checkpoint
(replaced after every epoch), history.csv and curves.png (loss and accuracy per epoch);
with --tensorboard DIR, TensorBoard event files in DIR as well.
"""
from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

import theon_cli

from . import __version__, caffe, callbacks, config, convert, data, distributed, keras, nn, optim
from .autodiff import grad
from .backend.device import default_device, resolve_device
from .caffe.reference import opencv_outputs, relative_difference
from .keras.reference import keras_outputs
from .callbacks import Callback
from .compile import function
from .distributed import launch
from .errors import TheonError
from .nn import load_model
from .nn.layer import call_of
from .nn.saving import load_training_checkpoint
from .ops.base import tensor
from .ops.random import seed as seed_rng
from .plotting import TrainingCurves

MODELS = theon_cli.MODELS
DATASETS = theon_cli.DATASETS
CHECKOUT = Path(__file__).resolve().parents[1]  # the repository holding this theon package


def build_model(name: str, input_shape, num_classes: int = 10, seed: int = 0):
    """The `theon train` models: LeNet-5, a two-layer MLP, and an LSTM reading each image
    row by row (28 steps of 28 pixels for Fashion-MNIST)."""
    if name == "lenet":
        same = input_shape[-1] < 28  # small images (digits' 8x8) keep their size through conv 2
        layers = [nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
                  nn.Conv2D(16, 5, padding="same" if same else "valid", activation="relu"),
                  nn.MaxPool2D(2), nn.Flatten(),
                  nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(num_classes)]
    elif name == "mlp":
        layers = [nn.Flatten(), nn.Dense(256, activation="relu"), nn.Dense(128, activation="relu"),
                  nn.Dense(num_classes)]
    elif name == "lstm":
        rows, cols = input_shape[-2], input_shape[-1]
        layers = [nn.Reshape((rows, cols)), nn.LSTM(128), nn.Dense(num_classes)]
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return nn.Sequential(layers, input_shape=tuple(input_shape), name=name, seed=seed)


def make_optimizer(model_name: str, lr):
    """SGD with momentum 0.9 (lr 0.01) for the convolutional and dense models; Adam (lr 2e-3)
    for the LSTM, which SGD trains slowly."""
    if model_name == "lstm":
        return optim.Adam(2e-3 if lr is None else lr)
    return optim.SGD(0.01 if lr is None else lr, momentum=0.9)


def load_dataset(name: str):
    return data.load(name)


class TestAccuracy(Callback):
    """Prints the test accuracy after each epoch (the validation set is the test set)."""

    rank_zero_only = True

    def on_epoch_end(self, epoch, logs=None):
        acc = (logs or {}).get("val_accuracy")
        if acc is not None:
            print(f"epoch {epoch + 1}/{self.params['epochs']}: test accuracy {acc:.2%}", flush=True)


class CommandError(TheonError):
    """A command line that cannot be carried out; printed as one line, exit status 2."""


def check_device(name):
    """The device the command will use (`name`, else THEON_DEVICE, else CUDA if present),
    checked to exist here before any data is loaded."""
    source = "--device" if name else ("THEON_DEVICE" if config.DEVICE else "default device")
    try:
        return resolve_device(name or default_device())
    except (RuntimeError, ValueError) as e:
        raise CommandError(f"{source}: {e}") from None


def cmd_train(args) -> int:
    device = check_device(args.device)
    if args.nproc > 1 and not launch.in_launched_process():
        return launch.launch_local(args.nproc, getattr(args, "argv", sys.argv[1:]))
    parallel = distributed.init()   # a rank of a launched run; else one process
    main = distributed.is_main_process()
    saved, done = {}, 0
    if args.resume:
        _, meta = load_training_checkpoint(args.resume)
        saved, done = meta.get("user", {}), int(meta["epoch"])
        if args.model and saved.get("model") and args.model != saved["model"]:
            raise CommandError(f"{args.resume} holds a {saved['model']} run, not {args.model}")
        if done >= args.epochs:
            print(f"{args.resume} already has {done} epoch(s); --epochs is the total, so pass "
                  f"--epochs {done + 1} or more to train on")
            return 0
    model_name = args.model or saved.get("model")
    if model_name not in MODELS:
        raise CommandError(f"{args.resume} does not say which model it trained; name one "
                           f"({', '.join(MODELS)})")
    settings = {"model": model_name,
                "dataset": args.dataset or saved.get("dataset", "fashion-mnist"),
                "batch_size": args.batch_size or saved.get("batch_size", 64),
                "lr": args.lr if args.lr is not None else saved.get("lr"),
                "seed": args.seed if args.seed is not None else saved.get("seed", 0),
                "limit": args.limit if args.limit is not None else saved.get("limit")}
    out = Path(args.out or args.resume or f"runs/{model_name}")

    (xtr, ytr), (xte, yte) = load_dataset(settings["dataset"])
    if settings["limit"]:
        xtr, ytr = xtr[:settings["limit"]], ytr[:settings["limit"]]
    seed_rng(settings["seed"])
    model = build_model(model_name, xtr.shape[1:], int(max(ytr.max(), yte.max())) + 1, settings["seed"])
    model.compile(make_optimizer(model_name, settings["lr"]), "cross_entropy", ["accuracy"], device=device,
                  distributed=parallel)
    if not args.resume and main:
        model.summary()
    if main:
        print(f"training {model_name} on {settings['dataset']} ({len(xtr)} examples, batch {settings['batch_size']}), "
              f"saving to {out}" + (f" ({distributed.world_size()} processes)" if parallel else ""),
              flush=True)
    curves = TrainingCurves(out / "history.csv", out / "curves.png", title=f"{model_name} on {settings['dataset']}",
                            validation_label="test", append=bool(args.resume))
    cbs = [callbacks.ModelCheckpoint(out, meta=settings), curves]
    if args.tensorboard:
        try:
            cbs.append(callbacks.TensorBoard(args.tensorboard))
        except ImportError as e:  # the optional package is missing: one line, not a traceback
            raise CommandError(f"--tensorboard: {e}") from None
    if not args.quiet:  # the epoch line (closing the progress display), then the test accuracy
        cbs += [callbacks.ProgressDisplay(1), TestAccuracy()]
    history = model.fit(xtr, ytr, epochs=args.epochs, batch_size=settings["batch_size"],
                        validation_data=(xte, yte), callbacks=cbs, seed=settings["seed"],
                        verbose=0, resume_from=args.resume)
    if parallel:
        distributed.shutdown()
    if not main:
        return 0
    final = history.history.get("val_accuracy", [float("nan")])[-1]
    drawn = f", curves in {curves.png_path}" if curves.png_path.is_file() else ""
    print(f"test accuracy {final:.2%}; checkpoint in {out}, history in {curves.path}{drawn}")
    return 0


def cmd_evaluate(args) -> int:
    device = check_device(args.device)
    _, meta = load_training_checkpoint(args.checkpoint)
    dataset = args.dataset or meta.get("user", {}).get("dataset", "fashion-mnist")
    model = load_model(args.checkpoint, device=device)
    _, (xte, yte) = load_dataset(dataset)
    results = model.evaluate(xte, yte, batch_size=args.batch_size)
    print(f"{args.checkpoint} (epoch {meta['epoch']}) on the {dataset} test set ({len(xte)} examples):")
    for k, v in results.items():
        print(f"  {k}: {v:.4f}" + (f" ({v:.2%})" if "acc" in k else ""))
    return 0


def load_benchmarks():
    """benchmarks.bench from this checkout. The benchmarks live beside the package, not in it:
    their peers use torch.nn, torch.autograd and torch.compile, which theon itself never
    does, so an installed wheel has no `theon bench`."""
    if not (CHECKOUT / "benchmarks" / "bench.py").is_file():
        raise CommandError(f"theon bench runs the benchmarks/ folder of a theon checkout, and this theon "
                           f"({CHECKOUT}) has none: clone the repository and `pip install -e .` there")
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    return importlib.import_module("benchmarks.bench")


def cmd_bench(args) -> int:
    device = str(check_device(args.device))
    bench = load_benchmarks()
    try:
        result = bench.run(args.workloads, args.peers, device, args.threads or [0], args.quick, args.rounds,
                           args.repeat)
    except bench.harness.ChildFailed as e:  # a measuring process crashed: its own error follows
        print(f"theon bench: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1) if args.json else bench.format_table(result), flush=True)
    if args.save:
        save = Path(args.save)
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(result, indent=1) + "\n")
    return 0


CHECK_RTOL = 1e-4


def _check_conversion(net, model, path: Path) -> bool:
    """Reload the written file and compare; then compare with OpenCV. True when all agree."""
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, *v.type.shape[1:])).astype(np.float32) for v in model.inputs]
    ours = model.predict(xs[0] if len(xs) == 1 else xs)
    ours = ours if isinstance(ours, list) else [ours]
    reloaded = load_model(path)
    again = reloaded.predict(xs[0] if len(xs) == 1 else xs)
    again = again if isinstance(again, list) else [again]
    same = all(np.array_equal(a, b) for a, b in zip(ours, again))
    print(f"check: {path} reads back into the same model: {'ok' if same else 'FAILED (outputs differ)'}")
    caffe_names = {spec.layer_name: spec.name for spec in net.layers}
    # OpenCV names outputs by Caffe layer (a Slice's later pieces are "<layer>:<top>" in theon)
    out_layers = [caffe_names[call_of(v).layer.name.split(":")[0]] for v in model.outputs]
    version, theirs = opencv_outputs(net.prototxt, net.caffemodel, {v.name: x for v, x in zip(model.inputs, xs)},
                                     out_layers)
    ok = same
    for name, a, b in zip(out_layers, ours, theirs):
        diff = relative_difference(a, np.reshape(b, a.shape) if np.size(a) == np.size(b) else b)
        good = diff <= CHECK_RTOL
        ok = ok and good
        print(f"check: output {name!r} against OpenCV {version} on 2 random inputs: max relative "
              f"difference {diff:.2e} (limit {CHECK_RTOL:g}): {'ok' if good else 'FAILED'}")
    return ok


def _random_inputs(model, rng) -> list:
    return [rng.integers(0, 2, (2, *v.type.shape[1:])).astype(v.dtype) if "int" in v.dtype
            else rng.standard_normal((2, *v.type.shape[1:])).astype(np.float32) for v in model.inputs]


def _check_keras_conversion(source: str, model, path: Path) -> bool:
    """Reload the written file and compare; then compare with Keras. True when all agree."""
    xs = _random_inputs(model, np.random.default_rng(0))
    ours = model.predict(xs[0] if len(xs) == 1 else xs)
    ours = ours if isinstance(ours, list) else [ours]
    again = load_model(path).predict(xs[0] if len(xs) == 1 else xs)
    same = all(np.array_equal(a, b) for a, b in zip(ours, again if isinstance(again, list) else [again]))
    print(f"check: {path} reads back into the same model: {'ok' if same else 'FAILED (outputs differ)'}")
    version, theirs = keras_outputs(source, xs)
    ok = same
    for v, a, b in zip(model.outputs, ours, theirs):
        diff = relative_difference(a, b)
        good = diff <= CHECK_RTOL
        ok = ok and good
        print(f"check: output {call_of(v).layer.name!r} against Keras {version} on 2 random inputs: max "
              f"relative difference {diff:.2e} (limit {CHECK_RTOL:g}): {'ok' if good else 'FAILED'}")
    return ok


def _convert_keras(args) -> int:
    source = args.files[0]
    model = keras.load(source)
    out = Path(args.out) if args.out else Path(Path(source).stem + ".safetensors")
    model.save(out)
    print(f"{source} -> {out}: {len(model.layers)} layers, {model.count_params():,} parameters")
    if args.check:
        return 0 if _check_keras_conversion(source, model, out) else 1
    return 0


def convert_caffe(args) -> int:
    """`theon convert` of a Caffe model: a theon model file (weights and config), checked on request."""
    prototxt = args.files[0]
    caffemodel = args.files[1] if len(args.files) > 1 else None
    try:
        net = caffe.read_net(prototxt, caffemodel, args.input_shape)
    except caffe.MissingInputShapeError as e:
        raise CommandError(f"{prototxt}: the shape of the input {e.blob!r} is not in the file; give it without "
                           f"the batch dim: --input-shape 3,224,224") from None
    model = caffe.build_model(net)
    out = Path(args.out) if args.out else Path(Path(caffemodel or prototxt).stem + ".safetensors")
    model.save(out)
    source = prototxt + (f" + {caffemodel}" if caffemodel else " (no weights: freshly initialised)")
    print(f"{source} -> {out}: {len(model.layers)} layers, {model.count_params():,} parameters")
    if args.check:
        return 0 if _check_conversion(net, model, out) else 1
    return 0


def load_pretrained(path: str):
    """The model `theon finetune --from` names, by theon_cli.finetune_source."""
    kind = theon_cli.finetune_source(path)
    if kind == "keras":
        return keras.load(path)
    if kind == "onnx":
        from . import onnx  # optional: the onnx package, needed only for ONNX files
        return onnx.load(path)
    return load_model(path, compile=False)


def as_model_input(x: np.ndarray, shape, value_range) -> np.ndarray:
    """Images (N, C, H, W) in [0, 1] resized (bilinear) to `shape` (C, H, W), grey images
    repeated over the model's channels, scaled to `value_range`."""
    channels, *size = shape
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if len(size) != 2 or t.shape[1] not in (1, channels):
        raise CommandError(f"the model takes inputs of shape {tuple(shape)}; the data set's images are "
                           f"{tuple(t.shape[1:])}")
    if tuple(t.shape[2:]) != tuple(size):
        t = torch.nn.functional.interpolate(t, size=tuple(size), mode="bilinear")
    t = t.expand(-1, channels, -1, -1)
    low, high = value_range
    return (t * (high - low) + low).contiguous().numpy()


def finetune_model(pretrained, cut: str, num_classes: int, seed: int):
    """The trunk of `pretrained` up to layer `cut` (frozen) with a new head: global average
    pooling of feature maps (rank 4) or flattening (rank 3), then Dense(num_classes) logits."""
    try:
        trunk = pretrained.cut(cut)
    except KeyError as e:
        raise CommandError(f"--cut {cut}: {e.args[0]}") from None
    trunk.trainable = False
    rank = len(trunk.outputs[0].type.shape)
    head = [nn.GlobalAvgPool2D(name="finetune_pool")] if rank == 4 else \
        [nn.Flatten(name="finetune_flatten")] if rank > 2 else []
    return trunk, nn.Sequential([trunk, *head, nn.Dense(num_classes, name="finetune_logits", seed=seed)],
                                name="finetuned")


def cmd_finetune(args) -> int:
    device = check_device(args.device)
    pretrained = load_pretrained(args.source)
    if len(pretrained.inputs) != 1:
        raise CommandError(f"--from {args.source}: the model has {len(pretrained.inputs)} inputs; fine-tuning "
                           f"on images takes a model of one")
    shape = tuple(pretrained.inputs[0].type.shape[1:])
    if len(shape) != 3 or None in shape:
        raise CommandError(f"--from {args.source}: the model's input is {shape}; fine-tuning on images takes a "
                           f"model of (channels, height, width) inputs")
    (xtr, ytr), (xte, yte) = load_dataset(args.dataset)
    if args.labels is not None and args.labels < len(xtr):
        keep = np.random.default_rng(args.seed).permutation(len(xtr))[:args.labels]
        xtr, ytr = xtr[keep], ytr[keep]
    if args.test_limit is not None:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    xtr, xte = (as_model_input(x, shape, args.input_range) for x in (xtr, xte))
    num_classes = int(max(ytr.max(), yte.max())) + 1
    trunk, model = finetune_model(pretrained, args.cut, num_classes, args.seed)
    frozen = len(trunk.params)
    print(f"{args.source} cut at {args.cut!r} {tuple(trunk.outputs[0].type.shape[1:])}: {frozen} frozen "
          f"tensors, a new head for {num_classes} classes; {len(xtr)} {args.dataset} examples")
    verbose = 0 if args.quiet else "auto"
    model.compile(optim.Adam(args.lr), "cross_entropy", metrics=["accuracy"], device=device)
    model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=verbose)
    accuracy = model.evaluate(xte, yte)["accuracy"]
    print(f"trunk frozen, {args.epochs} epoch(s): test accuracy {accuracy:.2%} ({len(xte)} examples)")
    if args.unfreeze_epochs:
        trunk.trainable = True
        model.compile(optim.Adam(args.lr / 10), "cross_entropy", metrics=["accuracy"], device=device)
        model.fit(xtr, ytr, epochs=args.unfreeze_epochs, batch_size=args.batch_size, seed=args.seed,
                  verbose=verbose)
        accuracy = model.evaluate(xte, yte)["accuracy"]
        print(f"then unfrozen, {args.unfreeze_epochs} epoch(s): test accuracy {accuracy:.2%}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"wrote {args.out} (th.nn.load_model reads it)")
    return 0


# the shape of one example of each data set, so a profile needs no data on disk
INPUT_SHAPES = {"fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28), "digits": (1, 8, 8)}


def profile_step(model_name: str, dataset: str, step: str, device):
    """The compiled step `theon profile` times: the training step as `fit` runs it (loss,
    gradients, the optimiser's and layers' updates) or the prediction."""
    model = build_model(model_name, INPUT_SHAPES[dataset], 10)
    x = tensor("x", (None, *INPUT_SHAPES[dataset]))
    if step == "predict":
        return function([x], model(x), device=device, keep_on_device=True, name="predict_step")
    y = tensor("y", (None,), "int64")
    loss = nn.cross_entropy(model(x, training=True), y).mean()
    params = model.trainable_params
    updates = make_optimizer(model_name, None).updates(params, grad(loss, params))
    taken = {id(s) for s, _ in updates}
    updates += [(s, v) for s, v in model.updates if id(s) not in taken]
    return function([x, y], loss, updates=updates, device=device, keep_on_device=True,
                    name="train_step")


def cmd_profile(args) -> int:
    device = check_device(args.device)
    f = profile_step(args.model, args.dataset, args.step, device)
    rng = np.random.default_rng(0)
    batch = [rng.random((args.batch_size, *INPUT_SHAPES[args.dataset]), dtype=np.float32)]
    if args.step == "train":
        batch.append(rng.integers(0, 10, args.batch_size))
    table = f.profile(*batch, repeat=args.repeat)
    print(f"{args.model} {args.step} step, batch {args.batch_size} of {args.dataset}-shaped inputs "
          f"{INPUT_SHAPES[args.dataset]}")
    print(table.to_string(max_rows=args.rows))
    if args.trace:
        print(f"Chrome trace written to {table.export_chrome_trace(args.trace)}")
    return 0


def cmd_convert(args) -> int:
    fmt = theon_cli.convert_format(args.files[0])
    if fmt == "caffe":
        return convert_caffe(args)
    if fmt == "keras":
        return _convert_keras(args)
    source = convert.READERS[fmt](args.files)
    print(f"{source.label} ({source.format}; {'; '.join(source.details)})")
    for kind, specs in (("inputs", source.inputs), ("outputs", source.outputs)):
        print(f"{kind}:")
        for spec in specs:
            print(f"  {spec.text()}")
    print(f"ops ({sum(source.ops.values())} nodes): "
          + ", ".join(f"{op} {n}" for op, n in sorted(source.ops.items(), key=lambda kv: (-kv[1], kv[0]))))
    if source.unsupported:
        print("unsupported ops (theon cannot build this model): "
              + ", ".join(f"{op} ({n} node{'s' if n != 1 else ''})" for op, n in sorted(source.unsupported.items())))
        return 1
    print("unsupported ops: none")
    model = source.build()
    inputs = convert.example_inputs(source, dict(args.input), dict(args.dim), args.seed)
    f = function(model.inputs, model.outputs, name=model.name)
    arrays = [inputs[v.name] for v in model.inputs]
    memory = f.estimate_memory(*arrays)
    shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in inputs.items())
    print(f"parameters: {model.count_params():,} ({convert.size_text(memory['shared'])})")
    print(f"memory for inputs {shapes}: {convert.size_text(memory['total'])} (inputs "
          f"{convert.size_text(memory['inputs'])}, weights {convert.size_text(memory['shared'])}, peak of "
          f"intermediates {convert.size_text(memory['intermediate_peak'])})")
    ok = True
    if args.check:
        ours = f(*arrays)
        ours = ours if isinstance(ours, list) else [ours]
        if source.reference is None:
            print(f"check: ran theon only: {source.reference_name}")
            for spec, value in zip(source.outputs, ours):
                print(f"  {spec.name}: {value.dtype}{list(value.shape)}")
        else:
            theirs = source.reference(inputs)
            print(f"check against {source.reference_name} (relative limit {convert.CHECK_RTOL:g}):")
            for spec, value, (diff, rel) in zip(source.outputs, ours, convert.differences(ours, theirs)):
                good = rel <= convert.CHECK_RTOL
                ok = ok and good
                print(f"  {spec.name}: {value.dtype}{list(value.shape)}, largest difference {diff:.3g} "
                      f"(relative {rel:.3g}): {'ok' if good else 'FAILED'}")
    if args.to:
        out = Path(args.out)
        what = convert.WRITERS[args.to](model, out, source, inputs)
        print(f"wrote {out} ({args.to}: {what})")
    return 0 if ok else 1


def cmd_info(args) -> int:
    print(f"theon   {__version__} ({Path(__file__).parent})")
    print(f"python  {platform.python_version()} ({sys.executable})")
    print(f"torch   {torch.__version__}")
    print(f"numpy   {np.__version__}")
    try:  # optional: the progress display falls back to plain lines without it
        import tqdm  # optional: tqdm
        print(f"tqdm    {tqdm.__version__}")
    except ImportError:
        print("tqdm    not installed (progress shows one line per epoch)")
    print("devices:")
    print(f"  cpu: {platform.machine()}, {torch.get_num_threads()} torch threads")
    if torch.cuda.is_available():
        print(f"  cuda: {torch.cuda.device_count()} device(s)")
        for i in range(torch.cuda.device_count()):
            print(f"    cuda:{i} {torch.cuda.get_device_name(i)}")
    else:
        print("  cuda: none")
    print("data sets:")
    for name, where in data.dataset_locations().items():
        print(f"  {name}: {where if where is not None else 'not found'}")
    try:  # optional: the digits data set ships inside scikit-learn
        import sklearn  # optional: scikit-learn
        print(f"  digits: in scikit-learn {sklearn.__version__}")
    except ImportError:
        print("  digits: not available (pip install scikit-learn)")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "bench": cmd_bench, "profile": cmd_profile,
            "convert": cmd_convert, "finetune": cmd_finetune, "info": cmd_info}


def run(args) -> int:
    """Carry out a command line that theon_cli parsed and checked; return the exit status.
    theon's own errors (a bad data file, a missing checkpoint, a device that is not there)
    and the system's (a folder that cannot be written) are one line on stderr, not a
    traceback."""
    try:
        return COMMANDS[args.command](args)
    except CommandError as e:
        print(f"theon {args.command}: {e}", file=sys.stderr)
        return theon_cli.USAGE_ERROR
    except (TheonError, OSError) as e:
        print(f"theon {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv=None) -> int:
    """`theon ARGS` (what `python -m theon` runs); see theon_cli.main."""
    return theon_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
