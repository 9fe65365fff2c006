"""w2gm: multimodal word distributions (Gaussian-mixture word embeddings)."""

from .config import TrainConfig
from .errors import ModelFileError, W2GMError
from .keyed import Components, KeyedMixtures, load

__all__ = ["Components", "KeyedMixtures", "ModelFileError", "TrainConfig", "W2GMError", "load", "train"]
__version__ = "0.1.0"


def train(corpus=None, **options):  # noqa: ANN001, ANN201 - re-exported below with full types
    from .train import train as _train

    return _train(corpus, **options)
