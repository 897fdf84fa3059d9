"""The report's image number of the slice on screen, and "go to image N", for the grounding dock.

napari's slider counts the viewer's steps from 0 at the lowest z; a report counts images as the study does
(DICOM InstanceNumber, or image 1 at the head for a phantom or NIfTI study: the StudySession's numbering).
The two rarely agree (the demo's slider shows 91 where the report says "image 166"), so the dock shows the
report's number of the PET slice nearest to the viewer's current z, follows the slider, and moves the view to
an image number typed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from ..session import StudySession
from ..study.numbering import Convention

if TYPE_CHECKING:
    import napari

CONVENTION_WORDS = {
    Convention.DICOM: "the DICOM instance numbers of the PET series",
    Convention.HEAD_FIRST: "counted from the head: image 1 is the top PET slice",
    Convention.FEET_FIRST: "counted from the feet: image 1 is the bottom PET slice",
}


def z_axis(viewer: napari.Viewer) -> int | None:
    """The dims axis of the body's z (the first of the last three), None for a 2D viewer."""
    return viewer.dims.ndim - 3 if viewer.dims.ndim >= 3 else None


def pet_index_on_screen(viewer: napari.Viewer, session: StudySession) -> int | None:
    """The PET slice (z index) nearest to the viewer's z now; None off the PET's extent or in 3D/2D views."""
    axis = z_axis(viewer)
    if axis is None or axis in viewer.dims.displayed:
        return None
    pet = session.study.pet
    index = int(np.round((float(viewer.dims.point[axis]) - pet.origin[0]) / pet.spacing[0]))
    return index if 0 <= index < pet.shape[0] else None


def image_on_screen(viewer: napari.Viewer, session: StudySession) -> int | None:
    """The report's image number of the slice on screen (session.numbering), None when there is none."""
    index = pet_index_on_screen(viewer, session)
    return session.numbering.image_for_index(index) if index is not None else None


def go_to_image(viewer: napari.Viewer, session: StudySession, image: int) -> bool:
    """Show the PET slice numbered ``image`` in the report's numbering; False when the series has no such image."""
    index = session.numbering.index_for_image(image)
    axis = z_axis(viewer)
    if index is None or axis is None:
        return False
    pet = session.study.pet
    viewer.dims.set_point(axis, float(pet.origin[0] + index * pet.spacing[0]))
    return True


class ImageNumberRow(QWidget):
    """"Slice on screen: image 166" and a "Go to image [N] Go" control, following the viewer's slider."""

    def __init__(self, viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self._session: StudySession | None = None
        self.label = QLabel("")
        self.spin = QSpinBox()
        self.spin.setToolTip("An image number as the report gives it")
        self.spin.setKeyboardTracking(False)
        self.go_button = QPushButton("Go to image")
        self.go_button.setToolTip("Show the slice with this image number (the report's numbering)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.go_button)
        row.addWidget(self.spin)
        self.go_button.clicked.connect(self.go)
        self.spin.editingFinished.connect(self.go)
        viewer.dims.events.current_step.connect(self.refresh)
        self._following = True
        self.set_session(None)

    def release(self) -> None:
        """Stop following the viewer (the dock is closing)."""
        if self._following:
            self.viewer.dims.events.current_step.disconnect(self.refresh)
            self._following = False
        self._session = None

    def set_session(self, session: StudySession | None) -> None:
        self._session = session
        has = session is not None
        self.spin.setEnabled(has)
        self.go_button.setEnabled(has)
        if has:
            numbers = session.numbering.numbers
            self.spin.setRange(min(numbers), max(numbers))
            self.setToolTip(f"Image numbers as the report gives them: {CONVENTION_WORDS[session.numbering.convention]}"
                            f" (images {min(numbers)}–{max(numbers)}). napari's slider counts its own steps.")
        self.refresh()

    @property
    def image(self) -> int | None:
        """The report's image number of the slice on screen."""
        return image_on_screen(self.viewer, self._session) if self._session is not None else None

    def refresh(self, *_args) -> None:
        image = self.image
        axis = z_axis(self.viewer)
        if self._session is None:
            self.label.setText("Slice on screen: no study.")
        elif axis is None or axis in self.viewer.dims.displayed:
            self.label.setText("Slice on screen: none (3D view).")
        elif image is None:
            self.label.setText("Slice on screen: outside the PET.")
        else:
            self.label.setText(f"Slice on screen: <b>image {image}</b>")
            if not self.spin.hasFocus():
                self.spin.blockSignals(True)
                self.spin.setValue(image)
                self.spin.blockSignals(False)

    def go(self) -> bool:
        """Move the view to the image number in the box; tells the user when the series has no such image."""
        if self._session is None:
            return False
        image = self.spin.value()
        if go_to_image(self.viewer, self._session, image):
            return True
        from napari.utils.notifications import show_warning

        numbers = self._session.numbering.numbers
        show_warning(f"This study has no image {image}: its images are numbered {min(numbers)}–{max(numbers)}.")
        return False
