#!/usr/bin/env bash
# Wheels that benchmarks/gpu_check.py needs on the GPU machine (Python 3.12 with CUDA torch,
# no internet, no pybullet), downloaded here into two folders of under 64 MiB each, because
# one device call carries at most 64 MiB:
#   .gpu-wheels/env: gymnasium[box2d] (Box2D, pygame-ce, ...) and tqdm, at this venv's versions
#   .gpu-wheels/cv2: opencv-python-headless (the car's observation renderer), 54 MB alone
# Then, on the device, two calls (the first call's install stays while the machine is warm):
#   carry [".gpu-wheels/cv2"]: pip install --no-index --no-deps .gpu-wheels/cv2/*.whl
#   carry [".gpu-wheels/env"]: pip install --no-index --find-links .gpu-wheels/env "gymnasium[box2d]" tqdm
#       && PYTHONPATH=$PWD python benchmarks/gpu_check.py --out $OUT/gpu
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
versions=$("$python" -c 'import gymnasium, cv2; print(gymnasium.__version__, cv2.__version__)')
read -r gymnasium_version cv2_version <<<"$versions"
target=(--python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64)
"$python" -m pip download --quiet "${target[@]}" -d .gpu-wheels/env "gymnasium[box2d]==$gymnasium_version" tqdm
# cv2.__version__ drops the wheel's build number (5.0.0 for 5.0.0.93): take the newest build of it.
"$python" -m pip download --quiet --no-deps "${target[@]}" -d .gpu-wheels/cv2 "opencv-python-headless~=$cv2_version.0"
du -sh .gpu-wheels/*
