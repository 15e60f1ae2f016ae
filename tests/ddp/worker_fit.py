"""Run under ``mpiexec -n N``: fit(..., distributed=True) on N ranks with a per-rank batch of 16 / N.

    worker_fit.py OUT TAG [--resume CKPT] [--custom] [--prewrap] [--stop-at EPOCH] [--fail-at EPOCH]

Rank 0 writes OUT/TAG.json: the final weights, the history, the files each rank wrote and the ranks'
agreement, for tests/test_ddp.py to compare between runs with 1 and 2 ranks.
"""
import argparse
import json
import os

import numpy as np

import fastnn
import fastnn.distributed as dist
from fastnn import nn
from fastnn.train import CSVLogger, Callback, ModelCheckpoint, fit
from fastnn.train import checkpoint as ckpt_mod

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("tag")
ap.add_argument("--resume", default=None)
ap.add_argument("--custom", action="store_true")
ap.add_argument("--stop-at", type=int, default=None)
ap.add_argument("--epochs", type=int, default=4)
ap.add_argument("--dropout", action="store_true", help="a Dropout layer: each rank draws its own masks")
ap.add_argument("--prewrap", action="store_true", help="pass the model already wrapped in DDP")
ap.add_argument("--fail-at", type=int, default=None, help="rank 1 raises during this epoch (1-based)")
a = ap.parse_args()

fastnn.set_num_threads(1)
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()

writes = []
_save = ckpt_mod.atomic_save


def counting_save(obj, path):
    writes.append(os.path.basename(path))
    _save(obj, path)


ckpt_mod.atomic_save = counting_save

g = np.random.default_rng(0)
X = g.standard_normal((88, 5))
y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
Xv, yv = X[:21] + 0.1, y[:21]
X, Xv = fastnn.from_numpy(X), fastnn.from_numpy(Xv)          # float64 tensors stay float64

fastnn.manual_seed(1 + rank)     # rank 0's initial weights win (DDP broadcasts them)
model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(0.3 if a.dropout else 0.0), nn.Linear(16, 3)).double()
opt = fastnn.optim.Adam(model.parameters(), lr=3e-2)
fastnn.manual_seed(9 + rank)     # rank 0 draws the shuffling seed; each rank its own dropout masks


class StopOnRank0(Callback):
    def on_epoch_end(self, epoch, logs=None):
        if rank == 0 and a.stop_at is not None and epoch + 1 == a.stop_at:
            self.state.stop_training = True

    def on_batch_end(self, batch, logs=None):
        if rank == 1 and a.fail_at is not None and self.state.epoch + 1 == a.fail_at and batch == 2:
            raise RuntimeError("simulated failure on rank 1")


cbs = [ModelCheckpoint(os.path.join(a.out, a.tag + "_{epoch}.fnn"), save_best_only=False),
       CSVLogger(os.path.join(a.out, a.tag + ".csv")), StopOnRank0()]
kw = {}
if a.custom:
    loss_fn = nn.CrossEntropyLoss()

    def train_step(batch, models, optimizers):
        xb, yb = batch
        optimizers["optimizer"].zero_grad()
        loss = loss_fn(models["model"](xb), yb)
        loss.backward()
        optimizers["optimizer"].step()
        return {"loss": loss}

    def val_step(batch, models):
        xb, yb = batch
        return {"loss": loss_fn(models["model"](xb), yb)}

    kw = dict(train_step=train_step, val_step=val_step)
    if a.prewrap:
        from fastnn.nn.parallel import DistributedDataParallel
        given = DistributedDataParallel(model)
    else:
        given = model
    hist = fit({"model": given}, (X, y), optimizer={"optimizer": opt}, epochs=a.epochs, val_data=(Xv, yv),
               callbacks=cbs, verbose=0, batch_size=16 // world, distributed=True, resume_from=a.resume, **kw)
else:
    hist = fit(model, (X, y), nn.CrossEntropyLoss(), opt, epochs=a.epochs, val_data=(Xv, yv), metrics=["accuracy"],
               callbacks=cbs, verbose=1, batch_size=16 // world, distributed=True, resume_from=a.resume)

weights = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
all_w = [None] * world
dist.all_gather_object(all_w, weights)
all_h = [None] * world
dist.all_gather_object(all_h, hist.history)
all_writes = [None] * world
dist.all_gather_object(all_writes, writes)
if rank == 0:
    with open(os.path.join(a.out, a.tag + ".json"), "w") as f:
        json.dump({"weights": weights.tolist(), "history": hist.history, "epochs": hist.epoch,
                   "ranks_equal": all(np.array_equal(w, weights) for w in all_w),
                   "histories_equal": all(h == hist.history for h in all_h), "writes": all_writes}, f)
dist.destroy_process_group()
