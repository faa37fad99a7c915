"""Data-parallel training with torchrun, on one machine or many.

One process (no launcher):     python examples/distributed_train.py
Two processes on this machine: torchrun --standalone --nproc-per-node 2 examples/distributed_train.py
Two machines of 8 GPUs each (run on both; HOST is the first machine's address):
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        --rdzv-id my-run examples/distributed_train.py --epochs 5

Every process runs this same script: `th.distributed.init()` reads the environment torchrun
sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), the weights are broadcast
from rank 0, each process trains on its share of every batch of 64, and rank 0 alone prints
and writes the checkpoint. docs/distributed.md lists the environment variables that matter.
"""
import argparse

import theon as th
from theon import nn


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64, help="the global batch, over all processes")
    p.add_argument("--out", default="runs/distributed-example", help="checkpoint folder (rank 0)")
    args = p.parse_args()

    th.distributed.init()   # one process when no launcher set the environment
    (xtr, ytr), (xte, yte) = th.data.load("digits")
    model = nn.Sequential([nn.Flatten(), nn.Dense(128, activation="relu"), nn.Dense(10)],
                          input_shape=xtr.shape[1:], seed=0)
    model.compile(th.optim.SGD(0.05, momentum=0.9), "cross_entropy", metrics=["accuracy"],
                  distributed=True)
    model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, verbose=2,
              callbacks=[th.callbacks.ModelCheckpoint(args.out)])
    accuracy = model.evaluate(xte, yte)["accuracy"]
    if th.distributed.is_main_process():
        print(f"{th.distributed.world_size()} process(es): test accuracy {accuracy:.2%}")
    th.distributed.shutdown()


if __name__ == "__main__":
    main()
