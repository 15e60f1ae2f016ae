"""Data-parallel training on several processes: a LeNet-style CNN on Fashion-MNIST with ``fit``.

Launch on one machine (each process gets its share of the cores)::

    python -m fastnn.distributed.run -n 2 examples/70_distributed_fashion_mnist.py
    mpirun -n 2 python examples/70_distributed_fashion_mnist.py          # or a cluster's own MPI

Run alone (``python examples/70_distributed_fashion_mnist.py``) it is a group of one process.

Every process builds the same model; ``fit(..., distributed=True)`` wraps it in
``nn.parallel.DistributedDataParallel`` (rank 0's initial weights are broadcast, gradients are
averaged during backward), deals the training images out with a ``data.DistributedSampler`` (a
new order every epoch), reduces the logged loss and accuracy across processes, and lets rank 0
alone print and write the checkpoint. ``--batch-size`` is the batch of one process: N processes
train like one process with a batch N times larger. Rank 0 then reports the test accuracy.

Aim: >= 0.88 test accuracy after 5 epochs on the full set. Needs the Debian package
``dataset-fashion-mnist``. Quick run: ``--epochs 1 --subset 2000``.
"""
import argparse
import time

import _common

import numpy as np

import fastnn
import fastnn.distributed as dist
from fastnn import nn
from fastnn.datasets import fashion_mnist
from fastnn.models import LeNet5
from fastnn.train import ModelCheckpoint, evaluate, fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=0, help="train on this many images (0: all 55000)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per process and step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.subset < 0 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be at least 1, --subset at least 0")

    dist.init_process_group("gloo")          # rank and world size come from the MPI launcher
    rank, world = dist.get_rank(), dist.get_world_size()
    fastnn.manual_seed(args.seed)

    # Every process reads the data set (a few MB); the sampler gives each its own images.
    x, y = fashion_mnist("train")
    x_test, y_test = fashion_mnist("test")
    perm = np.random.default_rng(args.seed).permutation(len(x))
    val, train = perm[:5000], perm[5000:]
    if args.subset:
        train = train[:args.subset]
        val = val[:max(args.subset // 4, 500)]
        x_test, y_test = x_test[:2000], y_test[:2000]
    mean, std = 0.286, 0.353                 # Fashion-MNIST's pixel statistics (0..1 scale)

    def prepare(images):
        return fastnn.from_numpy((images.astype(np.float32) / 255 - mean) / std)

    x_train, y_train = prepare(x[train]), fastnn.from_numpy(y[train])
    x_val, y_val = prepare(x[val]), fastnn.from_numpy(y[val])
    if rank == 0:
        print(f"{world} process(es), {fastnn.get_num_threads()} thread(s) each: {len(train)} training images "
              f"({len(train) // world} per process), batch {args.batch_size} per process "
              f"({args.batch_size * world} per step)", flush=True)

    model = LeNet5(padding=2)
    optimizer = fastnn.optim.Adam(model.parameters(), lr=args.lr)
    best = ModelCheckpoint(_common.output_path("70_distributed_best.fnn"), monitor="val_accuracy",
                           save_best_only=True, save_weights_only=True)
    start = time.perf_counter()
    history = fit(model, (x_train, y_train), nn.CrossEntropyLoss(), optimizer, epochs=args.epochs,
                  val_data=(x_val, y_val), metrics=["accuracy"], callbacks=[best], batch_size=args.batch_size,
                  verbose=2, distributed=True)
    seconds = time.perf_counter() - start
    best.restore(model)                      # every rank: the file is complete when fit returns

    if rank == 0:
        scores = evaluate(model, (prepare(x_test), fastnn.from_numpy(y_test)), nn.CrossEntropyLoss(),
                          ["accuracy"], batch_size=500)
        print(f"training: {seconds:.1f} s, {len(train) * args.epochs / seconds:.0f} images/s on {world} process(es)")
        print(f"best epoch {best.best_epoch + 1} (val accuracy {best.best_score:.4f})")
        print(f"test accuracy: {scores['accuracy']:.4f} ({len(y_test)} images) after {args.epochs} epochs on "
              f"{world} process(es) (target >= 0.88 with the full set and 5 epochs)")
        _common.save_plot("plot_history", "70_distributed_history.png", history,
                          title=f"LeNet-5 on Fashion-MNIST, {world} process(es)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
