"""What every command line here shares: mistakes are one ``error: ...`` line on stderr and exit code 2.

    from models.cli import ArgumentParser, one_line_errors

    @one_line_errors                      # a UserError -> "error: ...", 2 (with --debug: the traceback)
    def main(argv=None) -> int:
        args = ArgumentParser(prog="python -m app").parse_args(argv)
        ...

``ArgumentParser`` is argparse's with its errors in one line instead of the usage block, and a suggestion
for a misspelt option or command::

    error: unknown option --blok (did you mean --block?); python -m app --help lists them
"""
from __future__ import annotations

import argparse
import contextvars
import difflib
import functools
import re
import sys

from .errors import UserError

_debug = contextvars.ContextVar("debug", default=False)     # the last parse's --debug, for one_line_errors
_innermost = contextvars.ContextVar("innermost")            # the last parser to start parsing: a subcommand's


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line (``error: ...``, exit code 2), with "did you mean"."""

    def parse_known_args(self, args=None, namespace=None):
        _innermost.set(self)
        ns, extras = super().parse_known_args(args, namespace)
        if getattr(ns, "debug", False) is True:
            _debug.set(True)
        return ns, extras

    def error(self, message: str):
        self.exit(2, f"error: {self._reworded(message)}\n")

    def _reworded(self, message: str) -> str:
        if message.startswith("unrecognized arguments: "):
            extras = message.partition(": ")[2].split()
            option = next((a for a in extras if a.startswith("-") and a != "-"), None)
            if option is None:
                return f"unexpected argument {extras[0]!r}; {self.prog} --help lists what it takes"
            name = option.partition("=")[0]
            command = _innermost.get(self)        # `python -m blocks make --stpes`: make's options, make's help
            hint = _did_you_mean(name, command._all_options())
            if not hint and _did_you_mean(name, self._all_options()):
                command, hint = self, _did_you_mean(name, self._all_options())
            return f"unknown option {name}{hint}; {command.prog} --help lists them"
        if message.startswith("the following arguments are required: "):
            missing = ", ".join(_argument_name(a.strip()) for a in message.partition(": ")[2].split(","))
            return f"missing {missing}; {self.prog} --help tells what it takes"
        message = re.sub(r"(^| with )argument ", r"\1", " ".join(message.split()))   # "--x: ...", on one line
        choice = re.fullmatch(r"(.+?): invalid choice: '(.*?)' \(choose from (.*)\)", message)
        if choice:
            arg, value, listed = choice.groups()
            options = re.findall(r"'([^']*)'", listed) or [c.strip() for c in listed.split(",")]
            hint = difflib.get_close_matches(value, options, n=1)
            return (f"{_argument_name(arg)}: {value!r} is not one of {', '.join(options)}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        return message                             # argparse's own words: bad values, a missing value, ...

    def _all_options(self) -> list[str]:
        """Long option strings of this parser and of its subcommands' parsers."""
        found, parsers = [], [self]
        while parsers:
            parser = parsers.pop()
            for action in parser._actions:
                found += [s for s in action.option_strings if s.startswith("--")]
                if isinstance(action, argparse._SubParsersAction):
                    parsers += list(action.choices.values())
        return sorted(set(found))


def _did_you_mean(name: str, options: list[str]) -> str:
    hint = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean {hint[0]}?)" if hint else ""


def _argument_name(arg: str) -> str:
    """argparse's "cmd" or "COMMAND" (a subcommand's dest or metavar) reads as "command"."""
    return "command" if arg in ("cmd", "COMMAND", "command") else arg


def one_line_errors(main):
    """Decorates a CLI's ``main(argv=None)``: a UserError it raises is printed as one ``error: ...`` line on
    stderr and ``main`` returns 2; when the parsed arguments had ``--debug`` the traceback is shown instead."""
    @functools.wraps(main)
    def wrapper(argv=None):
        token = _debug.set(False)
        try:
            return main(argv)
        except UserError as exc:
            if _debug.get():
                raise
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            _debug.reset(token)
    return wrapper


def command_main(doc: str, add_arguments, run):
    """The ``main(argv=None)`` of a command made of ``add_arguments(parser)`` and ``run(args) -> int``: a parser
    described by `doc`, one-line errors (`one_line_errors`)."""

    @one_line_errors
    def main(argv=None) -> int:
        ap = _doc_parser(doc)
        add_arguments(ap)
        return run(ap.parse_args(argv))
    return main


def _doc_parser(doc: str, prog: str | None = None) -> ArgumentParser:
    """A parser whose help is `doc` as written (its usage examples keep their lines)."""
    import argparse

    return ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def script_parser(spec, doc: str) -> ArgumentParser:
    """The parser of a `python -m scripts.NAME` module (`script_parser(__spec__, __doc__)`): its docstring as the
    help, and the command that runs it as the program in usage lines and errors."""
    return _doc_parser(doc, prog=f"python -m {spec.name}")


__all__ = ["ArgumentParser", "command_main", "one_line_errors", "script_parser"]
