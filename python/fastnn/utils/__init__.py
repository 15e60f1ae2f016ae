"""``fastnn.utils``: helpers beside the library's core (PyTorch's ``torch.utils``): ``checkpoint``,
and torchvision's image-grid helpers ``make_grid`` and ``save_image``."""
from . import checkpoint  # noqa: F401
from .image import make_grid, save_image  # noqa: F401
