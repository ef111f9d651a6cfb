"""Running `livehelp user ...` in tests: its argument parser, and a prompt that must not come."""

from __future__ import annotations

import argparse

from state.accounts import cli


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="livehelp")
    cli.add_user_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def no_prompt(prompt: str) -> str:
    raise AssertionError(f"unexpected password prompt: {prompt}")
