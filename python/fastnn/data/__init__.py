"""Data tools: datasets and loaders (``torch.utils.data`` names), splits and scalers (scikit-learn's)."""
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .dataloader import DataLoader, default_collate, default_convert
from .split import KFold, StratifiedKFold, train_test_split, train_val_test_split
from .scaling import MinMaxScaler, StandardScaler
