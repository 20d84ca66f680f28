#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (TFX 1.16 needs 3.9 or 3.10).
# Order: $PYTHON310, pyenv's 3.10.x (selected by .python-version), python3.10 on PATH.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; }
for cand in "${PYTHON310:-}" \
            "$(command -v pyenv >/dev/null 2>&1 && PYENV_VERSION="$(cat .python-version 2>/dev/null)" pyenv which python 2>/dev/null)" \
            $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python 2>/dev/null | sort -rV) \
            "$(command -v python3.10 2>/dev/null)"; do
  if [ -n "$cand" ] && [ -x "$cand" ] && ok "$cand"; then echo "$cand"; exit 0; fi
done
cat >&2 <<'MSG'
error: no Python 3.10 found. TFX 1.16 runs on Python 3.9/3.10 only.
  Install one with pyenv:   pyenv install 3.10.13   (this repo's .python-version selects it)
  or with your OS:          apt-get install python3.10 python3.10-venv
  or point at one:          make PYTHON310=/path/to/python3.10 ...
MSG
exit 1
