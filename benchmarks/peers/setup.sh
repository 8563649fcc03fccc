#!/usr/bin/env bash
# Virtualenvs of the two peer servers of benchmarks/ogc_vs_peers.py, outside the repository:
#
#   benchmarks/peers/setup.sh            # -> ${BENCH_DIR:-/tmp/landsvc-ogc-bench}/venvs/{pygeoapi,tipg}
#
# Each venv is installed from a full lock (<peer>-requirements.txt, every package pinned, no
# dependency resolution) and checked with `pip check`. A venv whose lock is unchanged is kept;
# a changed lock rebuilds it. Python 3.11 is taken from $PYTHON, else python3.11 on PATH.
# The peers' configurations (pygeoapi.config.yml, tipg.env) are templates in this folder that
# ogc_vs_peers.py fills in with the database it starts; nothing here needs the database.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_dir=${BENCH_DIR:-/tmp/landsvc-ogc-bench}
python=${PYTHON:-$(command -v python3.11 || true)}
if [[ -z $python ]]; then
    echo "setup.sh: no python3.11 on PATH; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
case $bench_dir/ in
    "$(cd "$here/../.." && pwd)"/*)
        echo "setup.sh: BENCH_DIR must lie outside the repository" >&2
        exit 2 ;;
esac

for peer in pygeoapi tipg; do
    lock=$here/$peer-requirements.txt
    venv=$bench_dir/venvs/$peer
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    if [[ -f $venv/.lock-sha256 && $(cat "$venv/.lock-sha256") == "$want" ]]; then
        echo "$peer: $venv is up to date"
        continue
    fi
    start=$SECONDS
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
    "$venv/bin/pip" check --disable-pip-version-check
    echo "$want" > "$venv/.lock-sha256"
    echo "$peer: installed into $venv in $((SECONDS - start)) s"
done
