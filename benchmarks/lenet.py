"""LeNet-5 training and inference: theon's compiled step against PyTorch eager, in one run.

    python benchmarks/lenet.py [--device cpu|cuda] [--steps 50] [--repeat 3] [--threads N]

The network is the issue's LeNet-5 (Conv2D(6,5,same,relu), MaxPool2D(2), Conv2D(16,5,relu),
MaxPool2D(2), Flatten, Dense(120,relu), Dense(84,relu), Dense(10)) on 1x28x28 inputs.
Both frameworks start from the same weights (theon's initial weights copied into the torch
modules), use SGD(lr 0.01, momentum 0.9) and see the same batches (Fashion-MNIST when it is
installed, else random images), and the first steps' losses are compared as a check that
they compute the same thing.

Measured for training at batch 64 and 256 and inference at batch 256, each case in a
fresh subprocess (so neither framework inherits the other's warm caches or memory), the
two frameworks alternating, --repeat times, keeping each measure's best run:
- examples/s: `--steps` steps after 3 warm-up steps, synchronised at the end;
- first step: wall time from building the model (theon: building the graph, compiling
  the step function) to the end of the first step;
- peak memory: on CUDA, torch.cuda.max_memory_allocated (tensors allocated by either
  framework; theon's kernels are torch's); on the CPU, the growth of the process's peak
  resident set from just before the model is built to the end (Linux: the high-water mark
  reset through /proc/self/clear_refs, then VmHWM; elsewhere getrusage ru_maxrss), so it
  includes the allocator's caches and the framework's own Python objects.
Ratios are theon / torch: above 1 for examples/s means theon is faster; below 1 for time
and memory means theon uses less.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing theon
    sys.path.insert(0, str(ROOT))
LR, MOMENTUM, WARMUP = 0.01, 0.9, 3


def make_data(batch: int, count: int, seed: int = 0):
    """x float32 (count*batch, 1, 28, 28) and y int64: the examples of `count` batches."""
    import theon as th
    rng = np.random.default_rng(seed)
    if th.data.find_dataset("fashion-mnist", missing_ok=True) is not None:
        (x, y), _ = th.data.fashion_mnist(download=False)
        idx = rng.choice(len(x), size=batch * count, replace=len(x) < batch * count)
        x, y = x[idx], y[idx]
    else:
        x = rng.random((batch * count, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, batch * count)
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


def load_batches(folder: Path, batch: int):
    """The batches the parent wrote, read straight into their own arrays: no temporary
    copy, so the process's peak RSS equals its current RSS before the measurement starts."""
    out = []
    with open(folder / "x.npy", "rb") as fx, open(folder / "y.npy", "rb") as fy:
        shapes = []
        for f in (fx, fy):
            np.lib.format.read_magic(f)
            shape, _, _ = np.lib.format.read_array_header_1_0(f)
            shapes.append(shape)
        for _ in range(shapes[0][0] // batch):
            xb, yb = np.empty((batch, *shapes[0][1:]), np.float32), np.empty(batch, np.int64)
            fx.readinto(xb.data)
            fy.readinto(yb.data)
            out.append((xb, yb))
    return out


def theon_lenet():
    from theon import nn
    return nn.Sequential([
        nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
        nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10),
    ], input_shape=(1, 28, 28), seed=0)


def torch_lenet(weights: dict):
    """The same network as torch modules, holding theon's initial weights."""
    import torch
    from torch import nn
    m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                      nn.Linear(84, 10))
    pairs = [(m[0], "conv2d_1"), (m[3], "conv2d_2"), (m[7], "dense_1"), (m[9], "dense_2"), (m[11], "dense_3")]
    with torch.no_grad():
        for mod, name in pairs:
            kernel = weights[f"{name}/kernel"]
            mod.weight.copy_(torch.from_numpy(kernel.T.copy() if kernel.ndim == 2 else kernel))  # Dense is (in, out)
            mod.bias.copy_(torch.from_numpy(weights[f"{name}/bias"]))
    return m


def _status_kib(field: str):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_baseline() -> int:
    """KiB. On Linux the peak-RSS mark is reset to the current RSS first (a child process
    inherits its parent's high-water mark through fork and exec, which would hide it)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory(device, base_kib: int) -> float:
    """MiB, as the module docstring says."""
    import torch
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak - base_kib) / 1024


def child(framework: str, mode: str, batch: int, steps: int, device: str, folder: Path) -> dict:
    """One measurement, run in its own process."""
    import torch

    import theon as th
    data = load_batches(folder, batch)
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    weights = theon_lenet().get_weights()  # the initial weights both frameworks start from
    gc.collect()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base = memory_baseline()
    start = time.perf_counter()
    if framework == "theon":
        model = theon_lenet()
        model.set_weights(weights)
        if mode == "train":
            model.compile(th.optim.SGD(LR, momentum=MOMENTUM), "cross_entropy", [], device=device)
            fn = model.make_train_function(*data[0])  # the one step function fit uses

            def step(xb, yb):
                return fn(xb, yb)  # the vector of the step's logs: here the loss alone
        else:
            x = th.tensor("x", (None, 1, 28, 28))
            fn = th.function([x], model(x), device=device, keep_on_device=True)

            def step(xb, yb):
                return fn(xb)
    else:
        import torch.nn.functional as F
        m = torch_lenet(weights).to(device)
        if mode == "train":
            opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)

            def step(xb, yb):
                xb, yb = torch.from_numpy(xb).to(device), torch.from_numpy(yb).to(device)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(m(xb), yb)
                loss.backward()
                opt.step()
                return loss.detach()
        else:
            m.eval()

            def step(xb, yb):
                with torch.no_grad():
                    return m(torch.from_numpy(xb).to(device))
    first_out = step(*data[0])
    sync()
    first_step = time.perf_counter() - start
    outs = [first_out] + [step(*b) for b in data[1:WARMUP]]
    sync()
    t0 = time.perf_counter()
    for b in data[WARMUP:]:
        outs.append(step(*b))
    sync()
    elapsed = time.perf_counter() - t0
    check = [float(o) for o in outs[:5]] if mode == "train" else outs[0][:4].float().cpu().numpy().ravel().tolist()
    return {"examples_per_s": batch * steps / elapsed, "first_step_s": first_step,
            "peak_mib": peak_memory(device, base), "check": check}


def run_child(args, framework, mode, batch, folder) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, __file__, "--child", framework, mode, str(batch), "--steps", str(args.steps),
           "--device", args.device, "--data", str(folder)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per case (after 3 warm-up steps)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best of them is shown")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in every run")
    parser.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "MODE", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        framework, mode, batch = args.child
        print(json.dumps(child(framework, mode, int(batch), args.steps, args.device, Path(args.data))))
        return

    import torch

    import theon as th
    data = "Fashion-MNIST" if th.data.find_dataset("fashion-mnist", missing_ok=True) else "random images"
    where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else \
        f"CPU, {args.threads or torch.get_num_threads()} torch threads"
    print(f"LeNet-5, theon {th.__version__} vs torch {torch.__version__} eager on {args.device} ({where}); "
          f"{data}; {args.steps} timed steps per case; best of {args.repeat} fresh processes")
    mem = "peak MiB (CUDA allocated)" if args.device.startswith("cuda") else "peak RSS growth MiB"
    print(f"{'case':<18} {'':>6} {'examples/s':>12} {'first step s':>13} {mem:>26}   check")
    tmp = Path(tempfile.mkdtemp(prefix="theon-lenet-bench-"))
    try:
        for batch in (64, 256):
            x, y = make_data(batch, WARMUP + args.steps)
            (tmp / str(batch)).mkdir()
            np.save(tmp / str(batch) / "x.npy", x)
            np.save(tmp / str(batch) / "y.npy", y)
        for mode, batch in (("train", 64), ("train", 256), ("infer", 256)):
            report(args, mode, batch, tmp / f"{batch}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def best_of(runs: list) -> dict:
    """Noise on a shared machine only ever slows a run down: keep each measure's best."""
    return {"examples_per_s": max(r["examples_per_s"] for r in runs),
            "first_step_s": min(r["first_step_s"] for r in runs),
            "peak_mib": float(np.median([r["peak_mib"] for r in runs])), "check": runs[0]["check"]}


def report(args, mode, batch, folder):
    """Run one case in both frameworks (alternating, --repeat times) and print their rows
    and ratios."""
    runs = {"theon": [], "torch": []}
    for _ in range(args.repeat):
        for fw in runs:
            runs[fw].append(run_child(args, fw, mode, batch, folder))
    res = {fw: best_of(r) for fw, r in runs.items()}
    for fw in ("theon", "torch"):
        r = res[fw]
        print(f"{mode + ' batch ' + str(batch):<18} {fw:>6} {r['examples_per_s']:12.0f} {r['first_step_s']:13.3f} "
              f"{r['peak_mib']:26.1f}")
    a, b = res["theon"], res["torch"]
    diff = float(np.max(np.abs(np.array(a["check"]) - np.array(b["check"]))))
    what = "first 5 losses" if mode == "train" else "first outputs"
    print(f"{'':<18} {'ratio':>6} {a['examples_per_s'] / b['examples_per_s']:12.2f} "
          f"{a['first_step_s'] / b['first_step_s']:13.2f} "
          f"{a['peak_mib'] / b['peak_mib'] if b['peak_mib'] > 0 else float('nan'):26.2f}   "
          f"{what} differ by at most {diff:.2e}")


if __name__ == "__main__":
    main()
