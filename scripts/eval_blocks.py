"""Judge a block on still photos, as the app places it and at random:
`python -m blocks eval still` (blocks/eval_still.py), the same options
(`python scripts/eval_blocks.py --help` lists them)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a file, not with -m

from blocks.eval_still import main

if __name__ == "__main__":
    sys.exit(main())
