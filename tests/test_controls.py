"""The typed controls (app.controls): what keys, kiosk and maker change, and the pipeline reading ONE snapshot
per frame, so a block switched while a frame is classified never gives a result naming another block."""
import dataclasses
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.config import Settings, override
from app.controls import Controls, ControlState
from app.run import Loop, make_pipeline
from app.sinks import Summary
from app.sources import ClipSource
from blocks.library import Block
from conftest import PHOTOS

HENS = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))


def _block(name, path=None):
    return Block(name, torch.zeros(3, 4, 4), None, Path(path) if path else None)


def test_the_state_changes_only_through_its_methods_and_snapshots_are_frozen():
    a, b, c = _block("a", "a.png"), _block("b", "b.png"), _block("c", "c.png")
    state = ControlState([a, b], index=1, enabled=True, mirror=False)
    snap = state.snapshot()
    assert snap == Controls(b, 1, 2, True, False) and snap.paste
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.enabled = False
    assert state.cycle(1) is a and state.cycle(-1) is b and state.cycle(3) is a     # wraps both ways
    assert state.select(1) is b and state.select(2) is None and state.index == 1  # no such block: unchanged
    assert state.toggle_block() is False and not state.snapshot().paste
    state.set_enabled(True)
    assert state.toggle_mirror() is True and state.mirror
    state.set_mirror(False)
    assert state.add_block(c) == 2 and state.block is c                  # joins the cycle, becomes current
    assert state.add_block(_block("c again", "c.png"), select=False) == 2   # the same file: not added twice
    assert state.add_block(_block("a again", "a.png")) == 0 and state.block is a
    assert len(state.blocks) == 3 and snap.block is b                    # the old snapshot did not change
    empty = ControlState()
    assert empty.snapshot() == Controls(None, 0, 0, True, False) and not empty.snapshot().paste
    assert empty.cycle(1) is None and empty.select(0) is None


@pytest.fixture(scope="module")
def colour_pipeline():
    """The real classifier with two blocks of one pure colour each (BGR red and blue), so the frame tells
    which one was pasted."""
    pipe = make_pipeline(override(Settings(), {"block.name": "hog", "backend": "onnx"}))
    hog = pipe.block
    red = torch.zeros(3, 16, 16)
    red[0] = 1.0                                       # RGB
    blue = torch.zeros(3, 16, 16)
    blue[2] = 1.0
    pipe.controls = ControlState([Block("red", red, hog.info), Block("blue", blue, hog.info)])
    return pipe


def _pasted(after_frame, box):
    """The name of the colour pasted in the box ('red', 'blue'), None when neither is there."""
    x, y, w, h = box
    patch = after_frame[y:y + h, x:x + w].reshape(-1, 3).astype(int)
    red = ((patch == (0, 0, 255)).all(1)).sum()
    blue = ((patch == (255, 0, 0)).all(1)).sum()
    assert not (red and blue)
    return "red" if red else "blue" if blue else None


def test_a_block_switched_every_frame_from_another_thread_is_the_block_each_result_names(colour_pipeline, tmp_path):
    pipe = colour_pipeline
    stats = tmp_path / "s.jsonl"
    settings = override(Settings(), {"ui.headless": True, "size": [320, 240], "stats": str(stats)})
    results = {}
    loop = Loop(settings, pipe, Summary(), headless=True, log=lambda m: None,
                on_frame=lambda i, res: results.setdefault(i - 1, res))
    done = threading.Event()
    switches = [0]

    def switch():                                      # the keys, as fast as anyone could press them
        while not done.is_set():
            pipe.controls.cycle(1)
            if switches[0] % 7 == 6:
                pipe.controls.toggle_block()
            switches[0] += 1
            done.wait(0.0005)
    thread = threading.Thread(target=switch, daemon=True)
    thread.start()
    try:
        loop.play(ClipSource("hens", lambda: iter([HENS] * 40), 40))   # a file: classified on a worker thread
    finally:
        done.set()
        thread.join()
        loop.close()
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert len(lines) == 40 and switches[0] > 40
    named = [x["block"] for x in lines]
    assert {"red", "blue"} <= set(named) and None in named          # both blocks and the block off were seen
    for x in lines:
        res = results[x["frame"]]
        assert x["block"] == (res.block.name if res.block is not None else None)
        if res.block is None:
            assert _pasted(res.after_frame, [0, 0, 320, 240]) is None
        else:
            assert _pasted(res.after_frame, x["box"]) == x["block"], x    # the block pasted is the one named


def test_the_pipeline_reads_the_snapshot_it_is_given(colour_pipeline):
    pipe = colour_pipeline
    pipe.controls.set_enabled(True)
    pipe.controls.select(0)
    pipe.step(HENS)                                                   # finds the hens
    blue = dataclasses.replace(pipe.controls.snapshot(), block=pipe.controls.blocks[1], block_index=1)
    res = pipe.step(HENS, blue)
    assert res.block.name == "blue" and _pasted(res.after_frame, res.box) == "blue"
    assert pipe.block.name == "red"                                   # the live state is not changed by it
    off = pipe.step(HENS, dataclasses.replace(blue, enabled=False))
    assert off.block is None and np.array_equal(off.after_frame, HENS)
