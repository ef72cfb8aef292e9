"""How blocks do against classifiers they were not made for:
`python -m blocks eval transfer` (blocks/eval_transfer.py), the same options
(`python scripts/eval_transfer.py --help` lists them)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a file, not with -m

from blocks.eval_transfer import main

if __name__ == "__main__":
    sys.exit(main())
