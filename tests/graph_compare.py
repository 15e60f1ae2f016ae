"""Helpers of the tests that compare fastnn.graph with torch_geometric on the same graphs."""
import numpy as np

import fastnn
from fastnn.graph import Data


def to_torch(v):
    """A numpy array as a torch tensor; anything else unchanged."""
    import torch
    return torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v


def graph_pair(pyg, **arrays):
    """The same graph as a fastnn Data and a PyG Data (numpy arrays become tensors, other values stay)."""
    ours = Data(**{k: fastnn.tensor(v) if isinstance(v, np.ndarray) else v for k, v in arrays.items()})
    theirs = pyg.data.Data(**{k: to_torch(v) for k, v in arrays.items()})
    return ours, theirs
