#!/bin/sh
# The main job (`make demo`).
set -eu
./ropelab theory --out out/theory
echo "figures and CSV: out/theory/"
./ropelab maxret --out out/maxret
echo "max-retrieval (softmax vs adaptive temperature): out/maxret/"
