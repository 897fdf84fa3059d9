"""A study's encoder features live in its StudySession: computed once per checkpoint and device, shared by every
sentence and by describing, moved to the network's device, optionally kept on disk between runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_petground  # noqa: E402
from napari_petground.report import extract_findings  # noqa: E402
from napari_petground.session import StudySession, session_of, study_signature  # noqa: E402

DEMO = Path(napari_petground.__file__).parent / "checkpoints" / "demo" / "config.json"
TWO_FINDINGS = "Osseous metastases in both iliac wings, SUVmax 14.6 and 9.0 on images 166 and 169, respectively."


@pytest.fixture(scope="module")
def demo():
    from napari_petground.phantom.sample import demo_phantom, demo_study

    return demo_phantom(), demo_study()


@pytest.fixture(scope="module")
def grounder():
    if not DEMO.is_file():
        pytest.skip("the demo checkpoint is not shipped")
    from napari_petground.model.grounder import Grounder

    return Grounder.from_checkpoint(None, device="cpu")


class Counted:
    """Calls of preprocessing and of the network's encoder."""

    def __init__(self, monkeypatch, network) -> None:
        import napari_petground.model.preprocess as preprocess_module

        self.preprocess = self.encode = 0
        real_preprocess, real_encode = preprocess_module.preprocess, network.encode

        def preprocess(*args, **kwargs):
            self.preprocess += 1
            return real_preprocess(*args, **kwargs)

        def encode(*args, **kwargs):
            self.encode += 1
            return real_encode(*args, **kwargs)

        monkeypatch.setattr(preprocess_module, "preprocess", preprocess)
        monkeypatch.setattr(network, "encode", encode)

    @property
    def calls(self) -> tuple[int, int]:
        return self.preprocess, self.encode


def test_a_second_sentence_and_a_describe_after_a_grounding_neither_preprocess_nor_encode(grounder, demo,
                                                                                          monkeypatch):
    from napari_petground.model.describe import Describer

    phantom, study = demo
    session = StudySession(study)
    counted = Counted(monkeypatch, grounder.network)
    first = grounder.ground(session, extract_findings(phantom.sentences[7].text, tracer="FDG")[0])
    after_first = counted.calls
    assert after_first[0] == 1 and after_first[1] >= 1 and not first.cached_study

    second = grounder.ground(session, "Metastasis in the right iliac wing with SUVmax = 14.6 (series 4, image 166).")
    assert second.cached_study and counted.calls == after_first
    described = grounder.describe(session, second.mask)
    assert described.site and counted.calls == after_first
    # a describer loaded on its own for the same checkpoint and device finds the same features in the session
    alone = Describer.from_checkpoint(None, device="cpu")
    assert alone.describe(session, second.mask).site == described.site
    assert counted.calls == after_first


def test_each_finding_of_a_two_finding_sentence_is_grounded_on_its_own_lesion(grounder, demo):
    phantom, study = demo
    session = StudySession(study)
    findings = extract_findings(TWO_FINDINGS, tracer="FDG")
    assert [(f.suvmax, f.slice) for f in findings] == [(14.6, 166), (9.0, 169)]
    lesions = []
    for finding in findings:
        grounding = grounder.ground(session, finding)
        assert grounding.finding is finding and grounding.mask.any()
        values, counts = np.unique(phantom.lesion_labels[grounding.mask], return_counts=True)
        lesions.append(int(values[np.argmax(np.where(values > 0, counts, 0))]))
        assert grounding.agreement.suv_ok and grounding.agreement.slice_ok
    assert lesions == [1, 2]  # the right iliac wing metastasis, then its left twin


def test_a_sentence_is_still_accepted_and_its_first_finding_grounded(grounder, demo):
    _phantom, study = demo
    grounding = grounder.ground(study, TWO_FINDINGS)
    assert grounding.finding.suvmax == 14.6
    assert any("describes 2 findings" in flag for flag in grounding.flags)


def test_features_kept_on_disk_are_read_back_when_the_study_is_opened_again(grounder, demo, tmp_path,
                                                                          monkeypatch):
    _phantom, study = demo
    first = StudySession(study, feature_folder=tmp_path)
    sentence = "Metastasis in the right iliac wing with SUVmax = 14.6 (series 4, image 166)."
    fresh = grounder.ground(first, sentence)
    assert len(list(tmp_path.glob(f"{first.signature}-{grounder.checkpoint}.npz"))) == 1
    counted = Counted(monkeypatch, grounder.network)
    again = grounder.ground(StudySession(study, feature_folder=tmp_path), sentence)
    assert counted.calls == (0, 0) and again.cached_study
    assert np.array_equal(again.mask, fresh.mask)


class OnAnotherDevice(torch.nn.Module):
    """A network whose weights report the "meta" device, as a CUDA network reports "cuda": like one, it
    refuses input left on the CPU. A meta tensor holds no data, so it encodes zeros of the input's shape
    with the CPU network it wraps: enough to check where the input was sent."""

    def __init__(self, network) -> None:
        super().__init__()
        self.marker = torch.nn.Parameter(torch.empty(0, device="meta"))
        self.wrapped = [network]  # a list: not a submodule, so the marker is the first parameter
        self.config, self.n_coords = network.config, network.n_coords
        self.seen: list[str] = []

    def encode(self, image):
        self.seen.append(image.device.type)
        if image.device.type != "meta":
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"meta and {image.device}!")
        return self.wrapped[0].encode(torch.zeros(image.shape))


def test_describe_sends_its_input_to_the_networks_device(demo):
    from napari_petground.model.config import ModelConfig, NetworkConfig
    from napari_petground.model.describe import Describer
    from napari_petground.model.describe_features import FeatureSpec, encode_image
    from napari_petground.model.network import build_network

    phantom, study = demo
    torch.manual_seed(0)
    config = ModelConfig(network=NetworkConfig(features=(4, 8, 16, 16, 16)))
    network = OnAnotherDevice(build_network(config).eval())
    describer = Describer(network, config)
    assert describer.device == "meta"
    encoded = describer.encoded(StudySession(study))
    assert network.seen and set(network.seen) == {"meta"}
    assert encoded.levels[1].shape[1:] == encoded.image.shape[1:]
    image = np.zeros((config.preprocess.in_channels, 64, 48, 64), np.float32)
    assert encode_image(network, image, FeatureSpec(), (8.0, 8.0, 8.0), (0.0, 0.0, 0.0)).levels[1].shape[0] == 4
    description = describer.describe(study, phantom.lesion_labels == 1)  # no head: numbers and side only
    assert description.body_side == "right" and description.suvmax == pytest.approx(14.63, abs=0.01)


def test_the_signature_is_computed_once_and_layers_lead_to_their_session(demo):
    from napari_petground.session import session_layers

    _phantom, study = demo
    session = StudySession(study)
    assert session.signature == study_signature(study)
    layers = session_layers(session)
    assert [kwargs["metadata"]["petground"]["role"] for _d, kwargs, _k in layers] == ["ct", "pet"]
    assert all(session_of(kwargs["metadata"]) is session for _d, kwargs, _k in layers)
    assert session_of({"metadata": layers[0][1]["metadata"]}) is session  # an npe2 writer's attributes
    assert session_of({}) is None
