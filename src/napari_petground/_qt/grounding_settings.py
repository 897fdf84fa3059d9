"""Checkpoint and device pickers of the grounding dock, remembered between sessions in QSettings.

The checkpoint is "the shipped demo" (stored as an empty string, passed on as None) or a file or folder the
user browsed to; the last few are offered again. The device is "auto" (CUDA when available), "cuda" or "cpu".
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtCore import QSettings, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QWidget,
)

ORGANIZATION = "napari-petground"
APPLICATION = "grounding"
DEMO_LABEL = "Demo (shipped)"  # short: the whole name stays readable in a narrow dock
DEVICES: tuple[str, ...] = ("auto", "cuda", "cpu")
RECENT_LIMIT = 5


def default_settings() -> QSettings:
    """The user's settings: QSettings("napari-petground", "grounding")."""
    return QSettings(ORGANIZATION, APPLICATION)


class ModelPicker(QWidget):
    """One row: checkpoint (demo / recent / Browse…) and device (auto / cuda / cpu)."""

    changed = Signal()  # checkpoint or device changed

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else default_settings()
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip("Grounding model weights: the shipped demo or a checkpoint of your own")
        self.checkpoint_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.checkpoint_combo.setMinimumContentsLength(len(DEMO_LABEL))
        self.browse_button = QToolButton()
        self.browse_button.setText("Browse…")
        self.browse_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.browse_button)
        menu.addAction("Checkpoint file…", self._browse_file)
        menu.addAction("Checkpoint folder…", self._browse_folder)
        self.browse_button.setMenu(menu)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        self.device_combo.setToolTip("auto: CUDA when available, otherwise CPU. A GPU, or a CPU with bfloat16 "
                                     "instructions, computes in reduced precision; a saved finding records which")
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Model"))
        row.addWidget(self.checkpoint_combo, 1)
        row.addWidget(self.browse_button)
        row.addWidget(QLabel("on"))
        row.addWidget(self.device_combo)

        self._fill(self._setting("checkpoint", ""), self._recent())
        device = self._setting("device", "auto")
        self.device_combo.setCurrentText(device if device in DEVICES else "auto")
        self.checkpoint_combo.currentIndexChanged.connect(self._on_changed)
        self.device_combo.currentIndexChanged.connect(self._on_changed)

    # -- values ------------------------------------------------------------------------------------------
    @property
    def checkpoint(self) -> str | None:
        """Chosen checkpoint path, or None for the shipped demo."""
        value = self.checkpoint_combo.currentData()
        return value or None

    @property
    def device(self) -> str:
        return self.device_combo.currentText()

    def set_checkpoint(self, path: str | Path | None) -> None:
        """Select ``path`` (None = demo), adding it to the recent list."""
        value = str(path) if path else ""
        recent = self._recent()
        if value:
            recent = [value, *[p for p in recent if p != value]][:RECENT_LIMIT]
        self._fill(value, recent)
        self._on_changed()

    def set_device(self, device: str) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
        self.device_combo.setCurrentText(device)

    # -- internals ---------------------------------------------------------------------------------------
    def _setting(self, key: str, default: str) -> str:
        value = self._settings.value(key, default)
        return str(value) if value is not None else default

    def _recent(self) -> list[str]:
        value = self._settings.value("recent_checkpoints", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or []) if v]

    def _fill(self, current: str, recent: list[str]) -> None:
        combo = self.checkpoint_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(DEMO_LABEL, "")
        for path in recent:
            combo.addItem(Path(path).name or path, path)
            combo.setItemData(combo.count() - 1, path, 3)  # Qt.ToolTipRole: the full path
        if current and combo.findData(current) < 0:
            combo.addItem(Path(current).name or current, current)
        combo.setCurrentIndex(max(combo.findData(current), 0))
        combo.blockSignals(False)
        self._settings.setValue("recent_checkpoints", recent)

    def _on_changed(self, *_args) -> None:
        self._settings.setValue("checkpoint", self.checkpoint or "")
        self._settings.setValue("device", self.device)
        self._settings.sync()
        self.changed.emit()

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Grounding checkpoint", "",
                                              "Checkpoints (*.safetensors *.pt *.pth *.ckpt *.json);;All files (*)")
        if path:
            self.set_checkpoint(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Grounding checkpoint folder")
        if path:
            self.set_checkpoint(path)
