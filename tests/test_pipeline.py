"""The pipeline's frame: the Block it pasted, its own timings, and where it pasted handed to infer_pair."""
import math

import cv2
import numpy as np
import pytest

from app.config import Settings, override
from app.run import Loop, make_pipeline
from app.sinks import Summary
from blocks import load_block, paste_box, paste_frame
from conftest import PHOTOS
from models.incremental import changed_box
from models.preprocess import input_region, to_tensor

HENS = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))


@pytest.fixture(scope="module")
def pipeline():
    return make_pipeline(override(Settings(), {"block.name": "hog", "backend": "onnx"}))


def _inside(small, big):
    return big[0] <= small[0] and small[1] <= big[1] and big[2] <= small[2] and small[3] <= big[3]


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080), (224, 224), (320, 240), (100, 80),
                                  (449, 900)])
def test_the_region_handed_to_infer_pair_holds_every_changed_input_pixel(size):
    """paste_box (frame pixels) through input_region (classifier-input pixels, after shrink's blur and
    resize) must hold every pixel the paste changes in the classifier's input: a region too small would
    give wrong labels. Random blocks, places and sizes, on several frame sizes (downscaled and upscaled)."""
    rng = np.random.default_rng(size[0])
    w, h = size
    slack = []
    for _ in range(25):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        block = rng.random((3, 50, 50), dtype=np.float32)
        side, center = rng.uniform(0.05, 0.5), (rng.uniform(0, 1), rng.uniform(0, 1))
        pasted = paste_frame(frame, block, center, side)
        got = changed_box(to_tensor(frame, 224).numpy(), to_tensor(pasted, 224).numpy())
        region = input_region(paste_box(frame.shape, 50, center, side), frame.shape, 224)
        if got is not None:
            assert _inside(got, region), (center, side, got, region)
            slack.append(max(got[0] - region[0], region[1] - got[1], got[2] - region[2], region[3] - got[3]))
    assert slack and np.median(slack) <= 8          # and not much bigger than needed (crop cost)


def test_infer_pair_recomputes_the_region_it_is_given(pipeline):
    """With the right region the pair equals a full pass (the README's <=1e-5); with a wrong one the pasted
    image's labels come out wrong: the region is used, not found again by a pixel diff."""
    backend = pipeline.backend
    backend.halves(wait=True)
    block = load_block("hog", backend.model_name)
    side, center = math.sqrt(block.info.area), (0.4, 0.55)
    frame = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (640, 480))
    pasted = paste_frame(frame, block.image, center, side)
    a, b = to_tensor(frame, 224).numpy(), to_tensor(pasted, 224).numpy()
    full, _ = backend.infer(np.stack([a, b]))
    region = input_region(paste_box(frame.shape, block.image.shape[-1], center, side), frame.shape, 224)
    given, _ = backend.infer_pair(a, b, region)
    found, _ = backend.infer_pair(a, b)
    assert np.abs(given - full).max() <= 1e-5 and np.abs(found - full).max() <= 1e-5
    wrong, _ = backend.infer_pair(a, b, (0, 8, 0, 8))      # a corner far from the block
    assert np.abs(wrong[1] - full[1]).max() > 0.1 and np.abs(wrong[0] - full[0]).max() <= 1e-5
    none, _ = backend.infer_pair(a, a, (5, 5, 5, 5))       # an empty region: nothing changed
    assert np.abs(none[0] - none[1]).max() == 0


def test_step_passes_the_paste_region_and_returns_the_block(pipeline, monkeypatch):
    seen = []
    real = type(pipeline.backend).infer_pair

    def spy(self, before, after, changed=None):
        seen.append((changed_box(before, after), changed))
        return real(self, before, after, changed)
    monkeypatch.setattr(type(pipeline.backend), "infer_pair", spy)
    pipeline.smoother.box = None
    first, second = pipeline.step(HENS), pipeline.step(HENS)   # the first finds the hens, the second pastes
    assert first.block is None and second.block is pipeline.block and second.block.name == "hog"
    ((diff, changed),) = seen
    assert changed is not None and _inside(diff, changed)
    assert set(second.ms) == {"paste", "infer", "localize"} and all(v >= 0 for v in second.ms.values())


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
