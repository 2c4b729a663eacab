#!/usr/bin/env bash
# Builds the FFmpeg Lambda layer for the zip variant of the transcode function (the container image is
# the default; see functions/transcode/Dockerfile). Output: build/ffmpeg-layer.zip with
#   bin/ffmpeg                         (the static build imageio-ffmpeg ships, pinned by uv.lock)
#   python/...                         (PyAV, m3u8 and imageio-ffmpeg for the Lambda Python 3.12 runtime)
# Lambda puts /opt/bin on PATH; the function finds FFmpeg through FFMPEG=/opt/bin/ffmpeg.
# Size: FFmpeg alone is ~170 MB unpacked, so this layer plus the shared one nears Lambda's 250 MB
# unzipped limit; that is why the container image is the default and this the fallback.
#
#   layers/ffmpeg/build.sh [x86_64|aarch64]     (default x86_64; match the function's architecture)
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCH="${1:-x86_64}"
case "$ARCH" in
  x86_64) PLATFORM=x86_64-manylinux_2_28 ;;  # the Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34)
  aarch64) PLATFORM=aarch64-manylinux_2_28 ;;
  *) echo "unknown architecture: $ARCH" >&2; exit 2 ;;
esac
OUT=build/ffmpeg-layer
rm -rf "$OUT" && mkdir -p "$OUT/python" "$OUT/bin"
python3 -m uv export --quiet --frozen --no-dev --no-emit-project --no-hashes --extra transcode -o "$OUT/requirements.txt"
# Only the transcode extra's packages: the rest of the runtime comes from the shared layer.
grep -iE '^(av|m3u8|imageio-ffmpeg)==' "$OUT/requirements.txt" > "$OUT/transcode.txt"
python3 -m uv pip install --quiet --target "$OUT/python" --python-platform "$PLATFORM" --python-version 3.12 \
  --only-binary=:all: -r "$OUT/transcode.txt"
# imageio-ffmpeg's wheel for the platform carries the FFmpeg binary: expose it as /opt/bin/ffmpeg.
BINARY=$(find "$OUT/python/imageio_ffmpeg/binaries" -name 'ffmpeg-*' -type f | head -1)
mv "$BINARY" "$OUT/bin/ffmpeg"
chmod +x "$OUT/bin/ffmpeg"
rm "$OUT/requirements.txt" "$OUT/transcode.txt"
(cd "$OUT" && zip -q -r ../ffmpeg-layer.zip .)
echo "built build/ffmpeg-layer.zip ($(du -h build/ffmpeg-layer.zip | cut -f1)) for $ARCH"
