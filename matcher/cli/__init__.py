"""`matcher` command line: parses, calls the API (:mod:`matcher.api`), prints.

* :mod:`.common` — the apps, consoles, option types, the global ``--verbose``;
* :mod:`.reference` — ``reference add|list|show|remove``, ``devices``;
* :mod:`.follow` — ``follow`` (a file or the microphone);
* :mod:`.compare` — ``compare`` and ``score``;
* :mod:`.batch` — ``batch preprocess|compare|score``;
* :mod:`.render` — tables, summaries and the live display.
"""

from __future__ import annotations

import sys

import typer

from ..errors import MatcherError

# Imported for their commands, in the order `matcher --help` lists them.
from . import follow, reference, compare, batch  # noqa: F401  isort: skip
from ..serve.command import serve as serve_command
from .common import app, err, out

app.command("serve")(serve_command)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Exception types for bad command lines: typer's own (vendored click) and click's."""
    import typer.exceptions

    kinds: list[type[Exception]] = (
        [typer.exceptions.TyperException] if hasattr(typer.exceptions, "TyperException") else []
    )
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:
        pass
    return tuple(kinds)


def _exit_abort() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    import typer.exceptions

    exits: list[type[BaseException]] = [typer.exceptions.Exit]
    aborts: list[type[BaseException]] = [typer.exceptions.Abort]
    try:
        import click

        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(exits), tuple(aborts)


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input gets one line on stderr and exit status 2, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = typer.main.get_command(app)
    exits, aborts = _exit_abort()
    try:
        result = command.main(args=args or ["--help"], prog_name="matcher", standalone_mode=False)
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except aborts:
        print("matcher: interrupted", file=sys.stderr)
        return 130
    except _usage_errors() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            print(exc.format_message())  # type: ignore[attr-defined]
            return 0
        print(f"matcher: {exc.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]
        return 2
    except MatcherError as exc:
        print(f"matcher: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("matcher: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["app", "err", "main", "out"]
