"""Molecules as graphs through RDKit (``torch_geometric.utils.from_smiles``).

Atoms become nodes with 9 categorical features and bonds pairs of directed edges with 3, each
feature being the position of the RDKit value in PyG's category lists below, so the encodings
(and models trained on them) are interchangeable with PyG's.
"""
from __future__ import annotations

import numpy as np

from .. import _arrays
from ._optional import require

x_map = {
    "atomic_num": list(range(119)),
    "chirality": ["CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER", "CHI_TETRAHEDRAL",
                  "CHI_ALLENE", "CHI_SQUAREPLANAR", "CHI_TRIGONALBIPYRAMIDAL", "CHI_OCTAHEDRAL"],
    "degree": list(range(11)),
    "formal_charge": list(range(-5, 7)),
    "num_hs": list(range(9)),
    "num_radical_electrons": list(range(5)),
    "hybridization": ["UNSPECIFIED", "S", "SP", "SP2", "SP3", "SP3D", "SP3D2", "OTHER"],
    "is_aromatic": [False, True],
    "is_in_ring": [False, True],
}

e_map = {
    "bond_type": ["UNSPECIFIED", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE", "QUINTUPLE", "HEXTUPLE", "ONEANDAHALF",
                  "TWOANDAHALF", "THREEANDAHALF", "FOURANDAHALF", "FIVEANDAHALF", "AROMATIC", "IONIC", "HYDROGEN",
                  "THREECENTER", "DATIVEONE", "DATIVE", "DATIVEL", "DATIVER", "OTHER", "ZERO"],
    "stereo": ["STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS"],
    "is_conjugated": [False, True],
}


def _code(table, key, value):
    try:
        return table[key].index(value)
    except ValueError:
        raise ValueError(f"from_smiles: {key} value {value!r} is not one of PyG's categories") from None


def from_rdmol(mol):
    """A Data of an RDKit molecule: ``x`` int64 (atoms, 9), ``edge_index`` (both directions of each
    bond, sorted by (source, target)), ``edge_attr`` int64 (edges, 3)."""
    chem = require("rdkit.Chem", "from_rdmol", "rdkit")
    if not isinstance(mol, chem.Mol):
        raise TypeError(f"from_rdmol: argument 'mol' must be an rdkit Mol, got {type(mol).__name__}")
    xs = [[_code(x_map, "atomic_num", atom.GetAtomicNum()),
           _code(x_map, "chirality", str(atom.GetChiralTag())),
           _code(x_map, "degree", atom.GetTotalDegree()),
           _code(x_map, "formal_charge", atom.GetFormalCharge()),
           _code(x_map, "num_hs", atom.GetTotalNumHs()),
           _code(x_map, "num_radical_electrons", atom.GetNumRadicalElectrons()),
           _code(x_map, "hybridization", str(atom.GetHybridization())),
           _code(x_map, "is_aromatic", atom.GetIsAromatic()),
           _code(x_map, "is_in_ring", atom.IsInRing())] for atom in mol.GetAtoms()]
    pairs, feats = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        e = [_code(e_map, "bond_type", str(bond.GetBondType())), _code(e_map, "stereo", str(bond.GetStereo())),
             _code(e_map, "is_conjugated", bond.GetIsConjugated())]
        pairs += [(i, j), (j, i)]
        feats += [e, e]
    x = np.asarray(xs, dtype=np.int64).reshape(-1, 9)
    ei = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T
    ea = np.asarray(feats, dtype=np.int64).reshape(-1, 3)
    order = np.argsort(ei[0] * x.shape[0] + ei[1], kind="stable")
    from ..data import Data
    return Data(x=_arrays.long_tensor(x), edge_index=_arrays.long_tensor(ei[:, order]),
                edge_attr=_arrays.long_tensor(ea[order]))


def from_smiles(smiles, with_hydrogen=False, kekulize=False):
    """A Data of the molecule written as ``smiles`` (see :func:`from_rdmol`), with ``data.smiles``;
    an unparsable string gives the empty molecule, as in PyG. Needs RDKit."""
    require("rdkit", "from_smiles")
    from rdkit import Chem, RDLogger
    if not isinstance(smiles, str):
        raise TypeError(f"from_smiles: argument 'smiles' must be a str, got {type(smiles).__name__}")
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        mol = Chem.MolFromSmiles("")
    if with_hydrogen:
        mol = Chem.AddHs(mol)
    if kekulize:
        Chem.Kekulize(mol)
    data = from_rdmol(mol)
    data.smiles = smiles
    return data
