"""The live share of frames the app's own pipeline turns into the block's target:
`python -m blocks eval live` (blocks/eval_live.py), the same options
(`python scripts/eval_live.py --help` lists them)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a file, not with -m

from blocks.eval_live import main

if __name__ == "__main__":
    sys.exit(main())
