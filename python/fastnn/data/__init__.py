"""Data tools: datasets and loaders (``torch.utils.data`` names), splits and scalers (scikit-learn's)."""
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .image_dataset import ImageDataset
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .distributed import DistributedSampler
from .dataloader import DataLoader, default_collate, default_convert
from .pad_collate import pad_collate
from . import text  # noqa: F401  (tokenizer, vocabulary, bag-of-words / TF-IDF encoders)
from .split import KFold, StratifiedKFold, train_test_split, train_val_test_split
from .scaling import MinMaxScaler, StandardScaler
from . import transforms  # noqa: F401  (image preparation and augmentation)
from .describe import DatasetReport, describe  # noqa: F401
from .hdf5 import H5Dataset, save_h5  # noqa: F401  (h5py is imported only when used)
from .timeseries import SlidingWindows, chronological_split, timeseries_dataset_from_array  # noqa: F401
from . import sequence_tasks  # noqa: F401  (generated order-sensitive tasks)
from .sequence_tasks import sorted_sequences, token_counts  # noqa: F401
