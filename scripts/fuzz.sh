#!/bin/sh
# Builds every libFuzzer target in fuzz/ (clang -fsanitize=fuzzer,address,undefined against the
# library sources): the four container parsers, two round trips (parse -> write to memory -> parse
# must give the same metadata and bytes), Hugging Face config.json -> model config, the
# tokenizer.json parser, and GGUF metadata -> model config + vocabulary. Writes a seed corpus of small valid files, and runs each target for
# FUZZ_SECONDS (default 25). Exits non-zero on the first crash, leak, hang or sanitizer report;
# the reproducer is left in build/fuzz/artifacts/ (re-run it with: build/fuzz/fuzz_X FILE).
#   FUZZ_SECONDS=300 sh scripts/fuzz.sh           longer runs
#   FUZZ_TARGETS="gguf safetensors" sh scripts/fuzz.sh
set -eu
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-25}"
targets="${FUZZ_TARGETS:-safetensors gguf llama2c st_index gguf_roundtrip safetensors_roundtrip hf_config tokenizer_json gguf_model}"
out=build/fuzz
mkdir -p "$out/artifacts"
CLANG="${FUZZ_CC:-clang}"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -fno-omit-frame-pointer"
# the container layer (src/formats minus the model_* files, which need the whole model library)
LIB="$(ls src/formats/*.c | grep -v /model_) src/util/*.c"

# seeds: small valid files written by our own writers
gcc $FLAGS -Wall -Wextra -Werror -Wno-unknown-pragmas fuzz/make_seeds.c $LIB -lcjson -lm -o "$out/make_seeds"
rm -rf "$out/seeds"
"$out/make_seeds" "$out/seeds"

status=0
for t in $targets; do
  case "$t" in
    hf_config) src="src/formats/model_hf_config.c src/model/config.c src/model/config_json.c src/rope/spec.c src/rope/freqs.c src/util/*.c" ;;
    tokenizer_json) src="-Isrc/tokenizer src/tokenizer/*.c src/util/*.c" ;;
    gguf_model) src="$LIB src/formats/model_gguf_meta.c src/formats/model_perm.c src/model/config.c src/model/config_json.c src/rope/spec.c src/rope/freqs.c src/tokenizer/*.c" ;;
    *) src="$LIB" ;;
  esac
  # shellcheck disable=SC2086
  $CLANG $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "fuzz/fuzz_$t.c" $src -lcjson -lm -o "$out/fuzz_$t"
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  base=${t%_roundtrip} # the round-trip targets share their format's seeds and dictionary
  base=${base%_model}
  cp "$out/seeds/$base"/* "$corpus"/ 2>/dev/null || true
  dict=""
  [ -f "fuzz/$base.dict" ] && dict="-dict=fuzz/$base.dict"
  echo "fuzz: $t for ${secs}s (corpus $corpus)"
  # shellcheck disable=SC2086
  if ! "$out/fuzz_$t" "$corpus" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 >"$out/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; log $out/$t.log, reproducer in $out/artifacts/:" >&2
    grep -E "ERROR|SUMMARY|==[0-9]+==" "$out/$t.log" | head -20 >&2 || true
    ls -1 "$out/artifacts" | grep "^$t-" >&2 || true
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/$t.log" | tail -2
  fi
done
[ "$status" = 0 ] && echo "fuzz: all targets ran ${secs}s without a crash"
exit "$status"
