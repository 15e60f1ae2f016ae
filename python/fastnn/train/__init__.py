"""Keras-style training on top of the PyTorch-style core: fit / evaluate / predict, callbacks,
cross-validation, resumable checkpoints."""
from .callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback, ModelCheckpoint,
                        ProgressBar, TrainState)
from .checkpoint import load_checkpoint, resume, save_checkpoint
from .loop import CVResult, Metric, cross_validate, evaluate, fit, predict
from .tabular import Ensemble, TabularResult, mlp, train_tabular
from .forecast import ForecastResult, RecurrentForecaster, train_forecaster  # noqa: F401
from .vision import ViTResult, train_vit  # noqa: F401
from .autoencoder import (AutoencoderResult, NoisyImages, VAEResult, add_noise, train_autoencoder, train_vae,  # noqa: F401
                          vae_train_step, vae_val_step)
from .gan import gan_train_step, gradient_penalty, wgan_gp_train_step, wgan_train_step  # noqa: F401
from .generative import ImageEvaluator  # noqa: F401
from .diffusion import (DDPMResult, VariationalBound, ddpm_train_step, ddpm_val_step, sample_images,  # noqa: F401
                        train_ddpm, variational_bound_bpd)
