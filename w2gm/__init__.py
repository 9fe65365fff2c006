"""w2gm: multimodal word distributions (Gaussian-mixture word embeddings)."""

from .config import TrainConfig
from .errors import ModelFileError, QueryError, UnknownKeyError, W2GMError
from .keyed import Components, KeyedMixtures, load
from .train import train

__all__ = ["Components", "KeyedMixtures", "ModelFileError", "QueryError", "TrainConfig", "UnknownKeyError", "W2GMError",
           "load", "train"]
__version__ = "0.1.0"
