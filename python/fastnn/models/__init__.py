"""Small reference models used by the examples and tests; each family lives in its own module."""
from .lenet import LeNet5, DigitsCNN  # noqa: F401
from .keyed_vectors import KeyedVectors  # noqa: F401
from .word2vec import Word2Vec  # noqa: F401
from .char_ngram import CharNGramModel  # noqa: F401
from .transformer_heads import TokenEncoder, TransformerClassifier, TransformerTagger  # noqa: F401
from .causal_lm import CausalTransformerLM  # noqa: F401
from .vit import VisionTransformer  # noqa: F401
from .autoencoder import ConvAutoencoder, ConvVAE, DenoisingClassifier, vae_loss, elbo, ELBOResult  # noqa: F401
from .gan import DCGANDiscriminator, DCGANGenerator, WGANCritic, dcgan_weights_init  # noqa: F401
from .inception import BasicConv2d, InceptionBlock  # noqa: F401
from .unet import UNet2DModel, UNet2DOutput  # noqa: F401
