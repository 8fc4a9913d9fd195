#!/usr/bin/env bash
# make_venv VENV REQUIREMENTS: create (or refresh) an isolated virtual environment for a
# baseline and install its requirements. Idempotent: pip skips what is already satisfied.
# Sourced by setup_matchmaker.sh and setup_synctoolbox.sh.
make_venv() {
    local venv="$1" reqs="$2"
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet -r "$reqs"
}
