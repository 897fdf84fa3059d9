"""The package's own exception types.

Every error a user can cause raises one of these with a message that says what is wrong and what to do;
the GUI shows it as a napari notification, the CLI prints it and exits non-zero.
"""


class PetGroundError(Exception):
    """Base class for errors a user can cause and fix."""


class StudyError(PetGroundError):
    """A file or folder cannot be read as a PET/CT study (corrupt, missing series, wrong geometry)."""


class SuvError(StudyError):
    """PET values cannot be converted to SUV (a DICOM tag is missing or absurd)."""


class WriteError(PetGroundError):
    """Labels cannot be written back (wrong shape, unsupported format, unwritable place)."""


class ReportError(PetGroundError):
    """Report text cannot be used (empty, no finding)."""


class PhantomError(PetGroundError):
    """Phantom parameters are invalid."""


class WeakLabelError(PetGroundError):
    """A weak label cannot be computed for an item (missing image, no SUV)."""


class ModelError(PetGroundError):
    """The grounding model cannot run (bad checkpoint, missing encoder, out of memory)."""


class CheckpointError(ModelError):
    """A checkpoint does not fit this code or its text encoder."""


class ReviewError(PetGroundError):
    """The review queue cannot perform an action (no item, lease lost, corrupt store)."""
