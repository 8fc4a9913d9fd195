#!/usr/bin/env bash
# Create (or refresh) the isolated virtual environment that runs the pymatchmaker
# baselines. Idempotent: re-running only installs what is missing.
#
# Why a separate venv: pymatchmaker 0.3.0 pins numpy < 2, the project's venv has numpy 2.
# Why the soundfont placeholder: partitura (a pymatchmaker dependency) downloads a
# soundfont at import time when it finds FluidSynth, which fails offline; any file at
# partitura/assets/MuseScore_General.sf3 makes it skip the download. The baselines never
# synthesise audio, so an empty file is enough.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${MATCHMAKER_VENV:-$HERE/.venv-matchmaker}"
# shellcheck source=make_venv.sh
. "$HERE/make_venv.sh"
make_venv "$VENV" "$HERE/../requirements-baselines.txt"

SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
SF="$SITE/partitura/assets/MuseScore_General.sf3"
if [ ! -e "$SF" ]; then
    mkdir -p "$(dirname "$SF")"
    : > "$SF"
fi

# Fail here rather than in the middle of an evaluation if the import still breaks.
"$VENV/bin/python" -c 'import matchmaker, numpy; print("matchmaker", matchmaker.__version__, "numpy", numpy.__version__)'
