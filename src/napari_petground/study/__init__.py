"""One PET/CT exam in memory: reading, SUV conversion, geometry, image numbers, writers."""

from .numbering import Convention, ImageNumbering
from .study import PatientInfo, Study
from .volume import Volume

__all__ = ["Convention", "ImageNumbering", "PatientInfo", "Study", "Volume", "load_study"]


def load_study(*args, **kwargs) -> Study:
    """Read a PET/CT study from a DICOM folder, a NIfTI pair or a folder holding one (see study.io)."""
    from .io import load_study as _load_study

    return _load_study(*args, **kwargs)
