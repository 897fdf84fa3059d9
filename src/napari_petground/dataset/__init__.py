"""Sentence–mask datasets on disk: the layout shared by weak labeling, phantom cohorts, training and review."""

from .layout import Dataset, DatasetItem, DatasetWriter

__all__ = ["Dataset", "DatasetItem", "DatasetWriter"]
