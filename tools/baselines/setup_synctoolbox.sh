#!/usr/bin/env bash
# Create (or refresh) the isolated virtual environment that runs synctoolbox's MrMsDTW
# baseline for tools/eval_compare.py (through tools/baselines/run_synctoolbox.py, as a
# subprocess). Idempotent: re-running only installs what is missing.
#
# Why a separate venv: synctoolbox 1.4.2 needs librosa < 1.0 and numba < 0.66, while the
# project's venv has numba 0.68.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SYNCTOOLBOX_VENV:-$HERE/.venv-synctoolbox}"
# shellcheck source=make_venv.sh
. "$HERE/make_venv.sh"
make_venv "$VENV" "$HERE/requirements-synctoolbox.txt"

# Fail here rather than in the middle of an evaluation if the import still breaks.
"$VENV/bin/python" -c 'import synctoolbox, numba, librosa; print("synctoolbox ok, numba", numba.__version__, "librosa", librosa.__version__)'
