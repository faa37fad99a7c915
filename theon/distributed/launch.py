"""`theon train --nproc N`: start N local processes through torch.distributed.run (the
launcher behind `torchrun`) on 127.0.0.1 with a free port, each running the same command.
The processes see torchrun's environment (RANK, WORLD_SIZE, ...), so the command knows it
is one rank of a run and not the launcher. The command's arguments travel in THEON_ARGV
(JSON), not on torchrun's command line, whose parser would take `--nproc` for its own
`--nproc-per-node`."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import theon_cli


def free_port() -> int:
    """A TCP port no one listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_launched_process() -> bool:
    """Whether this process is a rank that a launcher (torchrun) started."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch_local(nproc: int, argv: list) -> int:
    """Run `theon *argv` as `nproc` ranks on this machine; the exit status (non-zero when a
    rank failed, as torchrun reports it)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
               "--nproc-per-node", str(int(nproc)), "--master-addr", "127.0.0.1",
               "--master-port", str(free_port()), "-m", "theon.distributed.launch"]
    env = dict(os.environ, THEON_ARGV=json.dumps([str(a) for a in argv]))
    return subprocess.run(command, env=env).returncode


def main() -> int:
    """A launched rank: the `theon` command with the arguments in THEON_ARGV."""
    return theon_cli.main(json.loads(os.environ["THEON_ARGV"]))


if __name__ == "__main__":
    sys.exit(main())
