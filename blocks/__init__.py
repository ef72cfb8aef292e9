"""Attacks, the paste, block generation (seed one-step and robust EOT) and the block library."""
from .library import Block, BlockInfo, list_blocks, load_block, save_block
from .paste import EVAL_RANGES, TRAIN_RANGES, PasteParams, PasteRanges, paste, sample_params
from .paste_cv import paste_box, paste_frame
from .seed import SeedBlock, eps_sweep, seed_block
from .train import TrainResult, block_side, train_block

__all__ = ["Block", "BlockInfo", "EVAL_RANGES", "PasteParams", "PasteRanges", "SeedBlock", "TRAIN_RANGES",
           "TrainResult", "block_side", "eps_sweep", "list_blocks", "load_block", "paste",
           "paste_box", "paste_frame", "sample_params", "save_block", "seed_block", "train_block"]
