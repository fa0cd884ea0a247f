#!/bin/sh
# The main job (`make demo`).
set -eu
./ropelab theory --out out/theory
echo "figures and CSV: out/theory/"
if [ -f ../shared/models/stories260K.bin ]; then
  ./ropelab analyze ../shared/models/stories260K.bin --tokenizer ../shared/models/tok512.bin \
    --text tests/data/stories/lily.txt tests/data/stories/max.txt tests/data/stories/cake.txt --out out/analyze-stories260K
  echo "analysis of stories260K: out/analyze-stories260K/"
fi
