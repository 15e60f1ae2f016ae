"""Small reference models used by the examples and tests; each family lives in its own module."""
from .lenet import LeNet5, DigitsCNN  # noqa: F401
from .keyed_vectors import KeyedVectors  # noqa: F401
from .word2vec import Word2Vec  # noqa: F401
from .char_ngram import CharNGramModel  # noqa: F401
