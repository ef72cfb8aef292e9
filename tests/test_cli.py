"""models.cli: argparse mistakes are one `error:` line (with "did you mean"), exit 2; UserError likewise."""
import argparse
import subprocess
import sys

import pytest

from conftest import ROOT, script
from models import UserError
from models.cli import ArgumentParser, one_line_errors


def _parser():
    ap = ArgumentParser(prog="python -m tool")
    ap.add_argument("--block")
    ap.add_argument("--block-scale", type=float)
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--layout", choices=["side_by_side", "stacked"])
    ap.add_argument("--debug", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    make = sub.add_parser("make")
    make.add_argument("--target", required=True)
    make.add_argument("--photos")
    sub.add_parser("list")
    return ap


@pytest.mark.parametrize("argv, line", [
    (["list", "--blok", "hog"],
     "error: unknown option --blok (did you mean --block?); python -m tool --help lists them"),
    (["--blok=hog", "list"], "error: unknown option --blok (did you mean --block?); python -m tool --help lists them"),
    (["list", "--zzz"], "error: unknown option --zzz; python -m tool list --help lists them"),
    (["make", "--target", "hog", "--fotos", "x"],           # a subcommand's option, and its help
     "error: unknown option --fotos (did you mean --photos?); python -m tool make --help lists them"),
    (["list", "--blok"], "error: unknown option --blok (did you mean --block?); python -m tool --help lists them"),
    (["list", "extra"], "error: unexpected argument 'extra'; python -m tool --help lists what it takes"),
    (["make"], "error: missing --target; python -m tool make --help tells what it takes"),
    ([], "error: missing command; python -m tool --help tells what it takes"),
    (["mak"], "error: command: 'mak' is not one of make, list (did you mean 'make'?)"),
    (["--layout", "stackd", "list"],
     "error: --layout: 'stackd' is not one of side_by_side, stacked (did you mean 'stacked'?)"),
    (["--max-frames", "ten", "list"], "error: --max-frames: invalid int value: 'ten'"),
    (["--block"], "error: --block: expected one argument"),
])
def test_argparse_mistakes_are_one_line(capsys, argv, line):
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""


def test_help_still_prints_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["--help"])
    assert exit_.value.code == 0 and "usage: python -m tool" in capsys.readouterr().out


@one_line_errors
def _main(argv=None):
    args = _parser().parse_args(argv)
    if args.cmd == "list":
        raise UserError("no such library: /nowhere")
    return 0


def test_a_user_error_is_one_line_and_code_2(capsys):
    assert _main(["list"]) == 2
    assert capsys.readouterr().err == "error: no such library: /nowhere\n"
    assert _main(["make", "--target", "hog"]) == 0


def test_debug_shows_the_traceback():
    with pytest.raises(UserError, match="/nowhere"):
        _main(["--debug", "list"])
    assert _main(["list"]) == 2                      # the next call without --debug: one line again


def test_other_errors_are_not_hidden():
    @one_line_errors
    def broken(argv=None):
        raise ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        broken([])


def test_it_is_still_an_argparse_parser():
    assert isinstance(_parser(), argparse.ArgumentParser)
    assert _parser().parse_args(["--block", "hog", "make", "--target", "pig"]).target == "pig"


def test_the_app_suggests_the_flag_it_meant():
    out = subprocess.run([sys.executable, "-m", "app", "--blok", "hog"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "error: unknown option --blok (did you mean --block?); python -m app --help lists them\n"


SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_script_run_as_a_file_says_how_to_run_it(name, tmp_path):
    """scripts/ are modules (`python -m scripts.NAME` from the root, no sys.path edits): run as a file from
    elsewhere, each says so in one line instead of failing on an import."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"error: run it from the repository root as: python -m scripts.{name}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_script_names_the_command_that_runs_it(name, cli):
    """Usage lines and errors name `python -m scripts.NAME`, the command a user types."""
    out = cli(script(name).main, "--help")
    assert out.returncode == 0 and out.stdout.startswith(f"usage: python -m scripts.{name} "), out.stdout[:200]
