#!/usr/bin/env bash
# bench/sort_kernel.sh: the sort service's worker-side costs, in process, one
# thread, no server and no sockets:
#   kernel  bench/sort_kernel.c: ns per step of the gnome sort kernels (the
#           old one, scalar, AVX2, AVX-512) on random int64 and doubles at
#           1000, 5000 and 20000 elements
#   codec   bench/sort_codec.c: decode, sort and encode of one request at
#           1000 and 5000 elements, random int32 (what dnsort-load sends)
#           and random doubles
# A benchmark, not a test: nothing runs it automatically. Figures and method
# are in bench/README.md, "Sort kernel and codec".
#
#   bench/sort_kernel.sh                        # both, about a minute
#   bench/sort_kernel.sh kernel                 # or: codec
#   REF=7d7f29f bench/sort_kernel.sh codec      # that commit's sortsvc/
#
# Environment (defaults in brackets):
#   CC, CFLAGS        compiler and flags [cc, -O2]
#   RUNS, RUNS_LARGE  kernel runs per cell below / at 20000 elements [11, 5]
#   SIZES             kernel sizes [1000 5000 20000]
#   CODEC_RUNS        codec runs per cell [31]
#   CODEC_SIZES       codec sizes [1000 5000]
#   REF               codec only: build bench/sort_codec.c against sortsvc/
#                     as of this git revision instead of the working tree
#                     (trees before the one-pass decoder are detected and
#                     built with -DSORT_CODEC_OLD_API and cJSON)
#   NICE              niceness of the runs [10]; the machine is shared
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2}
RUNS=${RUNS:-11}
RUNS_LARGE=${RUNS_LARGE:-5}
SIZES=${SIZES:-1000 5000 20000}
CODEC_RUNS=${CODEC_RUNS:-31}
CODEC_SIZES=${CODEC_SIZES:-1000 5000}
REF=${REF:-}
NICE=${NICE:-10}
WHAT=${1:-all}

case $WHAT in
  all|kernel|codec) ;;
  *) echo "usage: bench/sort_kernel.sh [all|kernel|codec]" >&2; exit 2 ;;
esac

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# -O2 and the project's C dialect; no -march: the vector walks are chosen at
# run time, as in dnsortd.
build() {  # OUT SRCDIR EXTRA_FLAGS... -- SOURCES...
  local out=$1 src=$2
  shift 2
  local flags=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  # shellcheck disable=SC2086
  "$CC" -std=c11 -D_GNU_SOURCE $CFLAGS "${flags[@]+"${flags[@]}"}" -I"$src" \
    -o "$out" "$@" -lm
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo '?')"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$CC" --version | head -1); CFLAGS=$CFLAGS"

if [ "$WHAT" != codec ]; then
  build "$WORK/sort_kernel" "$TOP/sortsvc" -- \
    "$HERE/sort_kernel.c" "$TOP/sortsvc/sort_num.c"
  echo
  echo "## kernel: nice -n $NICE sort_kernel $RUNS $RUNS_LARGE $SIZES"
  # shellcheck disable=SC2086
  nice -n "$NICE" "$WORK/sort_kernel" "$RUNS" "$RUNS_LARGE" $SIZES
fi

if [ "$WHAT" != kernel ]; then
  src="$TOP/sortsvc"
  extra=()
  libs=()
  if [ -n "$REF" ]; then
    src="$WORK/ref/sortsvc"
    mkdir -p "$WORK/ref"
    git -C "$TOP" archive "$REF" sortsvc | tar -x -C "$WORK/ref"
    if ! grep -q sort_nums_t "$src/sort_json.h"; then
      extra=(-DSORT_CODEC_OLD_API)
      libs=(-lcjson)
    fi
  fi
  build "$WORK/sort_codec" "$src" "${extra[@]+"${extra[@]}"}" -- \
    "$HERE/sort_codec.c" "$src/sort_json.c" "$src/sort_num.c" \
    "${libs[@]+"${libs[@]}"}"
  echo
  echo "## codec${REF:+ (sortsvc/ of $REF)}: nice -n $NICE sort_codec $CODEC_RUNS $CODEC_SIZES"
  # shellcheck disable=SC2086
  nice -n "$NICE" "$WORK/sort_codec" "$CODEC_RUNS" $CODEC_SIZES
fi
