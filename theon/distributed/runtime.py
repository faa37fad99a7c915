"""The process group: joining it, who we are, and explaining a collective that failed.

`init()` reads the environment `torchrun` (or `theon train --nproc`) sets: RANK,
WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Without it, theon runs as one process and every
collective is the identity. Gloo serves CPU tensors, NCCL CUDA ones.

A collective never hangs silently: the process group's timeout (default 5 minutes,
THEON_DIST_TIMEOUT seconds, or `init(timeout=...)`) bounds every wait, and a failed
collective raises `DistributedError` naming the collective and the rank(s) at fault. To
name them, each rank's heartbeat thread writes (time, collectives started) to the
rendezvous store every second: a rank whose heartbeat is stale has died, one that is
alive but behind is hung.
"""
from __future__ import annotations

import datetime
import os
import threading
import time

import torch
import torch.distributed as dist

from .. import config
from ..errors import TheonError

HEARTBEAT_SECONDS = 1.0
_STALE_AFTER = 3.0        # heartbeats missed, in HEARTBEAT_SECONDS, before a rank counts as dead
_KEY = "theon/heartbeat/{}"


class DistributedError(TheonError, RuntimeError):
    """A collective failed or timed out: another rank died, hung or diverged."""


class _State:
    store = None
    collectives = 0             # collectives this rank has started
    heartbeat: threading.Thread | None = None
    stop = threading.Event()


_state = _State()


def init(backend: str | None = None, timeout: float | None = None) -> bool:
    """Join the process group described by the environment (RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT, as torchrun sets them). Returns whether this is a multi-process run;
    without the environment it does nothing (one process). backend: 'gloo' or 'nccl'
    (default: NCCL when CUDA is present, else gloo). timeout: seconds any collective may
    wait for the other ranks before failing (default THEON_DIST_TIMEOUT, else 300)."""
    if dist.is_initialized():
        return world_size() > 1
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if timeout is None:
        try:
            timeout = float(config.DIST_TIMEOUT)
        except ValueError:
            raise ValueError(f"THEON_DIST_TIMEOUT must be a number of seconds, got "
                             f"{config.DIST_TIMEOUT!r}") from None
    if not timeout > 0:
        raise ValueError(f"theon.distributed.init: timeout must be positive seconds, got {timeout!r}")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    addr, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500"))
    # torchrun's agent hosts the store; a hand-made launch has rank 0 host it
    hosted_by_agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "") == "True"
    delta = datetime.timedelta(seconds=timeout)
    store = dist.TCPStore(addr, port, world, is_master=(rank == 0 and not hosted_by_agent),
                          timeout=delta)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
    dist.init_process_group(backend, store=dist.PrefixStore("theon/pg", store), rank=rank,
                            world_size=world, timeout=delta)
    _state.store, _state.collectives = store, 0
    _state.stop = threading.Event()
    _beat()
    _state.heartbeat = threading.Thread(target=_heartbeat_loop, args=(_state.stop,),
                                        name="theon-dist-heartbeat", daemon=True)
    _state.heartbeat.start()
    return world > 1


def shutdown():
    """Stop the heartbeat and leave the process group."""
    _state.stop.set()
    if dist.is_initialized():
        dist.destroy_process_group()
    _state.store = None


def is_initialized() -> bool:
    return dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main_process() -> bool:
    """Rank 0, the one that prints and writes files (True in a one-process run)."""
    return rank() == 0


def barrier():
    if world_size() > 1:
        run_collective("barrier", dist.barrier)


def _beat():
    _state.store.set(_KEY.format(rank()), f"{time.time()!r} {_state.collectives}")


def _heartbeat_loop(stop: threading.Event):
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            _beat()
        except Exception:  # the store is gone: the run is ending; the collectives will say why
            return


def started():
    """Count a collective this rank starts (the heartbeat reports the count)."""
    _state.collectives += 1


def run_collective(name: str, fn, *args, **kwargs):
    """Call a torch.distributed collective; a failure becomes a DistributedError that
    names `name` and the rank(s) at fault."""
    started()
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        raise collective_error(name, e) from e


def wait(name: str, work):
    """Wait for an asynchronous collective's handle, explaining a failure."""
    try:
        work.wait()
    except Exception as e:
        raise collective_error(name, e) from e


def collective_error(name: str, error: Exception) -> DistributedError:
    me = rank()
    return DistributedError(f"rank {me}: collective {name} (#{_state.collectives} on this rank) failed: "
                            f"{diagnose()}. Underlying error: {type(error).__name__}: "
                            f"{str(error).splitlines()[0][:300] if str(error) else ''}")


def diagnose() -> str:
    """Which other ranks look dead (heartbeat stopped) or hung (alive but behind). A rank
    that just died may have beaten less than a second ago, so this watches the heartbeats
    for up to a few seconds: one that moves is alive, one that stays still has died."""
    store, me, world = _state.store, rank(), world_size()
    if store is None:
        return "the process group is not initialised"
    others = [r for r in range(world) if r != me]
    first, last = {}, {}
    deadline = time.time() + (_STALE_AFTER + 1) * HEARTBEAT_SECONDS
    while True:
        for r in others:
            try:
                stamp, count = store.get(_KEY.format(r)).decode().split()
            except Exception:
                return (f"rank(s) {', '.join(map(str, others))} unreachable (the rendezvous store "
                        f"is gone: its host, rank 0 or the launcher, has stopped)")
            first.setdefault(r, stamp)
            last[r] = (stamp, int(count))
        now = time.time()
        pending = [r for r in others if last[r][0] == first[r]
                   and now - float(first[r]) <= _STALE_AFTER * HEARTBEAT_SECONDS]
        if not pending or now > deadline:
            break
        time.sleep(0.2)
    dead, behind = [], []
    for r in others:
        stamp, count = last[r]
        if stamp == first[r] and now - float(stamp) > _STALE_AFTER * HEARTBEAT_SECONDS:
            dead.append(f"rank {r} (no heartbeat for {now - float(stamp):.0f}s: it died)")
        elif count < _state.collectives:
            behind.append(f"rank {r} (alive but at collective #{count}: hung or on another path)")
    if not dead and not behind:
        return "no other rank looks dead or behind (a network failure?)"
    return "; ".join(dead + behind)
