"""How blocks survive print and camera, in simulation:
`python -m blocks eval physical` (blocks/eval_physical.py), the same options
(`python scripts/eval_physical.py --help` lists them)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a file, not with -m

from blocks.eval_physical import main

if __name__ == "__main__":
    sys.exit(main())
