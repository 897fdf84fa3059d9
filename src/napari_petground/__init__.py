"""napari-petground: ground PET/CT report sentences to lesion masks."""

__version__ = "0.1.0"
