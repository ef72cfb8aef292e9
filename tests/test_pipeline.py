"""The pipeline's frame: the Block it pasted, its own timings, and where it pasted handed to infer_pair."""
import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from app.config import LocalizeSettings, Settings, override
from app.frame import Pred
from app.pipeline import Pipeline
from app.run import Loop, make_pipeline
from app.sinks import Summary
from blocks import paste_frame
from blocks.library import Block, BlockInfo
from blocks.paste import PasteParams, paste
from conftest import PHOTOS
from models.cam import cam_box
from models.incremental import changed_box
from models.preprocess import to_input, to_tensor

HENS = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))


@pytest.fixture(scope="module")
def pipeline():
    return make_pipeline(override(Settings(), {"block.name": "hog", "backend": "onnx"}))


def _inside(small, big):
    return big[0] <= small[0] and small[1] <= big[1] and big[2] <= small[2] and small[3] <= big[3]


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080), (224, 224), (320, 240), (100, 80)])
def test_the_classifier_gets_the_block_as_trained_whatever_the_frame_size(pipeline, size):
    """The after-input is the shrunk frame with the block pasted at the input's own pixels: the torch paste
    that training and evaluation use, to within one grey level, on every frame size; and the region handed
    to infer_pair holds every input pixel the paste changed."""
    block = pipeline.block
    w, h = size
    frame = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (w, h))
    side = math.sqrt(block.info.area)
    for center in [(0.5, 0.5), (0.31, 0.62), (0.2, 0.8)]:
        box = (center[0] - 0.1, center[1] - 0.1, 0.2, 0.2)
        small = pipeline._small(frame)
        after_frame, after, changed = pipeline._paste(pipeline.block, frame, small, box)
        clean = to_tensor(frame, 224)
        want = paste(clean[None], block.image, PasteParams(torch.tensor([center]), torch.tensor([side]),
                                                          torch.zeros(1), torch.ones(1)))[0]
        assert np.abs(after - want.numpy()).max() <= 1.01 / 255
        got = changed_box(clean.numpy(), after)
        assert got is not None and _inside(got, changed)
        assert after_frame.shape == frame.shape and (after_frame != frame).any()


def test_a_block_pasted_into_the_frame_and_shrunk_would_be_blurred(pipeline):
    """Why the block goes into the input and not into the frame before the shrink: the shrink's
    anti-aliasing blurs it (mean change of well over a grey level per pixel on a 640×480 frame)."""
    block = pipeline.block
    side, center = math.sqrt(block.info.area), (0.5, 0.5)
    frame = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (640, 480))
    via_frame = to_tensor(paste_frame(frame, block.image, center, side), 224).numpy()
    _, direct, (y0, y1, x0, x1) = pipeline._paste(pipeline.block, frame, pipeline._small(frame), (0.4, 0.4, 0.2, 0.2))
    diff = np.abs(via_frame - direct)[:, y0 + 2:y1 - 2, x0 + 2:x1 - 2].mean() * 255
    assert diff > 2


def test_infer_pair_recomputes_the_region_it_is_given(pipeline):
    """With the right region the pair equals a full pass (the README's <=1e-5); with a wrong one the pasted
    image's labels come out wrong: the region is used, not found again by a pixel diff."""
    backend = pipeline.backend
    backend.halves(wait=True)
    frame = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (640, 480))
    small = pipeline._small(frame)
    _, b, region = pipeline._paste(pipeline.block, frame, small, (0.3, 0.45, 0.2, 0.2))
    a = to_tensor(frame, 224).numpy()
    full, _ = backend.infer(np.stack([a, b]))
    given, _ = backend.infer_pair(a, b, region)
    found, _ = backend.infer_pair(a, b)
    assert np.abs(given - full).max() <= 1e-5 and np.abs(found - full).max() <= 1e-5
    wrong, _ = backend.infer_pair(a, b, (0, 8, 0, 8))      # a corner far from the block
    assert np.abs(wrong[1] - full[1]).max() > 0.1 and np.abs(wrong[0] - full[0]).max() <= 1e-5
    none, _ = backend.infer_pair(a, a, (5, 5, 5, 5))       # an empty region: nothing changed
    assert np.abs(none[0] - none[1]).max() == 0


def test_the_first_frame_with_an_animal_is_pasted_and_the_next_pairs_with_its_region(pipeline, monkeypatch):
    seen = []
    real = type(pipeline.backend).infer_pair

    def spy(self, before, after, changed=None):
        seen.append((changed_box(before, after), changed))
        return real(self, before, after, changed)
    monkeypatch.setattr(type(pipeline.backend), "infer_pair", spy)
    pipeline.smoother.box = None
    first = pipeline.step(HENS)                   # no box yet: localised on this frame, then pasted
    assert first.block is pipeline.block and first.after.name == "hog" and first.before.name == "hen"
    _, pasted, _ = pipeline._paste(pipeline.block, HENS, pipeline._small(HENS), pipeline.smoother.box)
    assert first.after.index == int(np.argmax(pipeline.backend.infer(pasted[None])[0][0]))
    assert not seen                               # that frame had no box to pair with
    second = pipeline.step(HENS)
    assert second.block is pipeline.block and second.block.name == "hog"
    ((diff, changed),) = seen
    assert changed is not None and _inside(diff, changed)
    assert set(second.ms) == {"paste", "infer", "localize"} and all(v >= 0 for v in second.ms.values())


def test_nothing_is_pasted_without_an_animal(pipeline):
    pipeline.smoother.box = None
    grey = np.full((240, 320, 3), 128, np.uint8)
    res = pipeline.step(grey)
    assert not pipeline.is_subject(res.before)
    assert res.block is None and res.after == res.before and res.after_frame is grey


def test_the_loop_keeps_its_timings_apart_from_the_pipelines(pipeline):
    settings = override(Settings(), {"ui.headless": True, "size": [320, 240]})
    summary = Summary()
    loop = Loop(settings, pipeline, summary, headless=True, log=lambda m: None)
    res = pipeline.step(HENS)
    loop.show(HENS, res, 0.0, 0.5)
    loop.close()
    assert set(res.ms) == {"paste", "infer", "localize"}                      # not edited by the loop
    assert set(summary.stage_ms) == {"paste", "infer", "localize", "capture", "render", "latency", "frame"}
    assert summary.stage_ms["capture"] == [0.5] and summary.stage_ms["infer"] == [res.ms["infer"]]


def test_an_animal_split_among_classes_is_still_an_animal(pipeline):
    """cat.jpg: the top class (a cat breed) holds ~16%, the animal classes together ~73%: the block goes on."""
    conf = pipeline.loc.confidence
    split = Pred(285, "Egyptian cat", conf / 2, [], True, 0.73)
    assert pipeline.is_subject(split)
    assert not pipeline.is_subject(Pred(285, "Egyptian cat", conf / 2, [], True, conf / 2))
    assert not pipeline.is_subject(Pred(951, "lemon", 0.9, [], False, 0.01))     # not an animal on top
    cat = cv2.resize(cv2.imread(str(PHOTOS / "cat.jpg")), (320, 240))
    pipeline.smoother.box = None
    res = pipeline.step(cat)
    assert res.before.animal_prob > 2 * res.before.prob and res.block is pipeline.block


def test_an_animal_under_another_top_class_gets_the_block_on_the_animal():
    """A rabbit on a couch ('studio couch' 30% on top, the rabbit classes 45% together): the block goes on
    the likeliest animal's activation, not the couch's; below `animal_mass` it goes on nothing."""
    fc = np.zeros((1000, 2))
    fc[331, 0] = fc[831, 1] = 1.0                 # hare looks at channel 0, studio couch at channel 1
    fmap = np.zeros((2, 7, 7))
    fmap[0, :2, :2] = 1.0                         # the hare: top left
    fmap[1, 4:, 4:] = 1.0                         # the couch: bottom right
    loc = LocalizeSettings(smoothing=0.0, hold_frames=0)
    pipe = Pipeline(SimpleNamespace(fc_weight=fc), [], [], loc)
    couch = Pred(831, "studio couch", 0.30, [], False, loc.animal_mass + 0.05, 331)
    assert pipe.subject(couch) == 331
    x, y, w, h = pipe._localize(couch, fmap, np.zeros((70, 70, 3), np.uint8))
    assert x + w < 0.5 and y + h < 0.5            # on the hare
    unsure = Pred(831, "studio couch", 0.30, [], False, loc.animal_mass - 0.05, 331)
    pipe.smoother.box = None                      # nothing held (a held box needs only keep_mass: next test)
    assert pipe.subject(unsure) is None and pipe._localize(unsure, fmap, None) is None
    anything = Pipeline(SimpleNamespace(fc_weight=fc), [], [], LocalizeSettings(classes="any"))
    assert anything.subject(couch) == 831         # any object: the top class, whatever it is


def test_an_animal_already_under_the_block_needs_only_keep_mass():
    """The gate's hysteresis: an animal under another top class gets the block at `animal_mass`; once a box is
    held it keeps it down to `keep_mass`, and below that the box is let go (after the hold)."""
    fc = np.zeros((1000, 1))
    fc[331, 0] = 1.0
    fmap = np.zeros((1, 7, 7))
    fmap[0, :2, :2] = 1.0
    loc = LocalizeSettings(animal_mass=0.4, keep_mass=0.2, smoothing=0.0, hold_frames=0)
    pipe = Pipeline(SimpleNamespace(fc_weight=fc), [], [], loc)
    at = lambda mass: Pred(831, "studio couch", 0.30, [], False, mass, 331)   # noqa: E731
    assert pipe._localize(at(0.3), fmap, None) is None          # not yet on it: 0.3 < animal_mass
    assert pipe._localize(at(0.45), fmap, None) is not None     # on it
    assert pipe._localize(at(0.3), fmap, None) is not None      # stays on it above keep_mass
    assert pipe._localize(at(0.25), fmap, None) is not None
    assert pipe._localize(at(0.15), fmap, None) is None         # lets go below it
    assert pipe._localize(at(0.3), fmap, None) is None          # and needs animal_mass again
    same = Pipeline(SimpleNamespace(fc_weight=fc), [], [], LocalizeSettings(animal_mass=0.4, keep_mass=0.4))
    same._localize(at(0.45), fmap, None)
    assert same.subject(at(0.3)) is None                        # keep_mass = animal_mass: no hysteresis


class SpotClassifier:
    """A stand-in classifier that says `target` only when the input at point `hot` (x, y fractions) differs
    from the plain grey frame (the block covers it) and hen otherwise; its feature map is `fmap` for every
    image. Counts the images it classifies."""

    input_size, incremental = 224, False

    def __init__(self, fmap, fc, hot, target):
        self.fmap, self.fc_weight, self.hot, self.target, self.images = fmap, fc, hot, target, 0
        self.grey = to_input(np.full((224, 224, 3), 128, np.uint8))[:, 0, 0]

    def infer(self, x):
        self.images += len(x)
        logits = np.zeros((len(x), 1000), np.float32)
        logits[:, 8] = 5.0
        px, py = int(self.hot[0] * 224), int(self.hot[1] * 224)
        covered = np.abs(x[:, :, py, px] - self.grey).max(1) > 0.1
        logits[covered, self.target] = 10.0
        return logits, np.repeat(self.fmap[None], len(x), 0)

    def infer_pair(self, before, after, changed=None):
        return self.infer(np.stack([before, after]))


def _spot_pipeline(fallback: bool):
    """A block of 0.05 × the input's side; the animal's CAM region an L (its box's centre is off the L, its
    centre of mass on it, more than a block apart); the classifier is fooled only by a block on the centre
    of mass."""
    fc = np.zeros((1000, 4), np.float32)
    fc[8, 2] = 1.0
    fmap = np.zeros((4, 7, 7), np.float32)
    fmap[2, 1, 1:6] = fmap[2, 1:6, 1] = 1.0
    mass = cam_box(fmap, fc, 8, 0.5, aim="mass")
    hot = (mass[0] + mass[2] / 2, mass[1] + mass[3] / 2)
    box = cam_box(fmap, fc, 8, 0.5)
    assert max(abs(box[0] + box[2] / 2 - hot[0]), abs(box[1] + box[3] / 2 - hot[1])) > 0.05
    info = BlockInfo(target=341, target_name="hog", model="efficientnet_lite0", area=0.0025, side=11)
    block = Block("blue", torch.zeros(3, 11, 11).index_fill_(0, torch.tensor([2]), 1.0), info)
    backend = SpotClassifier(fmap, fc, hot, 341)
    loc = LocalizeSettings(smoothing=0.0, hold_frames=0, fallback=fallback)
    return Pipeline(backend, [block], [f"class {i}" for i in range(1000)], loc), backend, hot


def test_a_frame_the_block_misses_at_the_box_centre_tries_the_centre_of_mass_and_stays_there():
    """localize.fallback: the block at the CAM box's centre does not fool the classifier, so the same frame
    is classified once more with the block on the CAM's centre of mass, which does; the right pane shows that
    one, and the next frames paste there straight away (no extra inference while it fools)."""
    pipe, backend, hot = _spot_pipeline(fallback=True)
    grey = np.full((240, 320, 3), 128, np.uint8)
    first = pipe.step(grey)             # the animal appears: localised, pasted at the box, missed, retried
    assert first.after.index == 341 and first.before.index == 8 and pipe.spot == 1
    x, y, w, h = first.box
    assert abs((x + w / 2) / 320 - hot[0]) < 0.02 and abs((y + h / 2) / 240 - hot[1]) < 0.02
    backend.images = 0
    nxt = pipe.step(grey)
    assert nxt.after.index == 341 and backend.images == 2       # one pair, no retry
    assert (nxt.after_frame != grey).any()


def test_without_the_fallback_the_block_stays_on_the_box_centre():
    pipe, backend, _ = _spot_pipeline(fallback=False)
    grey = np.full((240, 320, 3), 128, np.uint8)
    pipe.step(grey)
    backend.images = 0
    res = pipe.step(grey)
    assert res.after.index == 8 and pipe.spot == 0 and backend.images == 2
