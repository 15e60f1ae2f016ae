"""Training algorithms over process groups (PyTorch's ``torch.distributed.algorithms``)."""
