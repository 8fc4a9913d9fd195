"""Follower settings given on a tool's command line."""

from __future__ import annotations

from dataclasses import replace

from ..follow import FollowParams


def follow_params(settings: list[str]) -> FollowParams:
    """:class:`matcher.follow.FollowParams` with ``NAME=VALUE`` settings (numbers) over the defaults.

    Raises
    ------
    SystemExit
        A setting that is not ``NAME=VALUE`` with NAME a FollowParams field (the message names it).
    """
    defaults = FollowParams()
    values = {}
    for item in settings:
        name, _, value = item.partition("=")
        if not hasattr(defaults, name) or not value:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE with NAME a FollowParams field")
        values[name] = type(getattr(defaults, name))(float(value))
    return replace(defaults, **values)
