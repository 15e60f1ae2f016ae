#!/usr/bin/env bash
# Development build: compiles the native modules into build/dev and places them beside
# the Python sources, so `PYTHONPATH=python pytest` runs without reinstalling.
# FASTNN_CUDA=off skips the CUDA module (faster); FASTNN_DEV_TAG names a separate build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/dev-${FASTNN_DEV_TAG:-main}-${FASTNN_CUDA:-auto}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTNN_CUDA="${FASTNN_CUDA:-auto}" \
  -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build "$dir" -j 2
for so in "$dir"/_C*.so; do
  name=$(basename "$so")
  cp "$so" "python/fastnn/.$name.tmp" && mv "python/fastnn/.$name.tmp" "python/fastnn/$name"
done
echo "built: $(ls python/fastnn/*.so | xargs -n1 basename | tr '\n' ' ')"
