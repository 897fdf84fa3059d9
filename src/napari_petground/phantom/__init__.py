"""Synthetic whole-body PET/CT phantoms with lesions and the report sentences that describe them."""

from .generate import Phantom, make_phantom
from .lesions import LesionTruth
from .text import SentenceTruth, lesion_sentence

__all__ = ["LesionTruth", "Phantom", "SentenceTruth", "lesion_sentence", "make_phantom"]
