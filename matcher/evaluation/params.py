"""Follower settings given on a tool's command line, and the options several tools share
(``--json OUT``, ``--param NAME=VALUE``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..follow import FollowParams


def follow_params(settings: list[str], defaults: FollowParams | None = None) -> FollowParams:
    """:class:`matcher.follow.FollowParams` with ``NAME=VALUE`` settings (numbers) over
    ``defaults`` (default ``FollowParams()``).

    Raises
    ------
    SystemExit
        A setting that is not ``NAME=VALUE`` with NAME a FollowParams field (the message names it).
    """
    defaults = defaults or FollowParams()
    values = {}
    for item in settings:
        name, _, value = item.partition("=")
        if not hasattr(defaults, name) or not value:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE with NAME a FollowParams field")
        values[name] = type(getattr(defaults, name))(float(value))
    return replace(defaults, **values)


def add_json_option(parser: argparse.ArgumentParser, help: str = "write all figures here") -> None:
    """The ``--json OUT`` option most tools have (``args.json``: a Path or None)."""
    parser.add_argument("--json", type=Path, metavar="OUT", help=help)


def add_param_option(parser: argparse.ArgumentParser) -> None:
    """The repeatable ``--param NAME=VALUE`` option (``args.param``: a list; :func:`follow_params`)."""
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a FollowParams setting")


def write_json(path: Path | None, figures: Any, indent: int | None = 1) -> None:
    """Write ``figures`` as JSON to ``path`` (nothing when ``path`` is None)."""
    if path is not None:
        Path(path).write_text(json.dumps(figures, indent=indent))
