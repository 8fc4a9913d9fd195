#!/usr/bin/env bash
# Debian libraries matcher needs beside its Python packages: PortAudio for sounddevice
# (live input), libsndfile for soundfile, the fluidsynth program with a General MIDI
# soundfont (fluid-soundfont-gm) to render scores to audio (matcher.notation; a second
# soundfont, timgm6mb-soundfont, renders the takes of tools/eval_score_following.py), and
# python3-venv where the Python that makes .venv lacks venv/ensurepip (a fresh Debian or
# Ubuntu). Installed with apt-get when running as root; otherwise a clear message says
# what to install.
#   --test  also PulseAudio and its ALSA plugin: the live-audio tests make a file-fed
#           microphone with them on machines without a sound card (tools/pulse_mic.py);
#           Chromium and its WebDriver for the real-browser tests of `matcher serve`
#           (tests/test_serve_browser.py: headless, fake microphone fed from a file).
#   --eval  also the synthesizers, soundfonts and sox that render the evaluation corpus
#           (tools/build_corpus.py): fluidsynth with three soundfonts, TiMidity++ with
#           freepats, sox for rooms, filters and levels.
set -euo pipefail
packages=(libportaudio2 libsndfile1 fluidsynth fluid-soundfont-gm timgm6mb-soundfont)
if ! "${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null; then
  packages+=(python3-venv)
fi
if [ "${1:-}" = "--test" ]; then
  packages+=(pulseaudio pulseaudio-utils libasound2-plugins chromium chromium-driver)
fi
if [ "${1:-}" = "--eval" ]; then
  packages+=(musescore-general-soundfont timidity freepats sox)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "setup: please install the PortAudio and libsndfile libraries (${missing[*]} on Debian)" >&2
  exit 0  # the pip wheels of soundfile bundle libsndfile; only live input needs PortAudio
fi
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: missing Debian packages ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  [ "${1:-}" != "--test" ] || echo "setup: until then the PulseAudio (live audio) tests are skipped" >&2
fi
