#!/usr/bin/env bash
# Fuzzing campaigns that keep their results.
#
#   scripts/fuzz.sh run [options] [TARGET...]     a campaign (default: every target)
#   scripts/fuzz.sh replay [TARGET...]            replay the committed corpus once (-runs=0)
#   scripts/fuzz.sh list                          the targets
#
# run options:
#   -r N          N executions per target (libFuzzer -runs; per job)
#   -t SECONDS    SECONDS per target (libFuzzer -max_total_time; default 60)
#   -j JOBS       parallel fuzzing processes per target (libFuzzer -jobs/-workers; default 1)
#   -m MB         the largest single allocation allowed (libFuzzer -malloc_limit_mb; default 64)
#   --no-save     explore only: keep neither the corpus nor STATUS.md (what CI does)
#   --no-build    use the fuzz binaries already built
#
# A campaign, per target: the committed corpus fuzz/corpus/<target>/ and the seeds in
# fuzz/seeds/<target>/ are fuzzed with -timeout=2 (seconds per input), -malloc_limit_mb and
# -rss_limit_mb=2048; new inputs go to a scratch directory; then the committed corpus is
# replaced by the minimal set that covers the union (libFuzzer -merge=1, what `cargo fuzz cmin`
# runs), and fuzz/STATUS.md gets the target's row (commit, date, executions this campaign and
# cumulated, corpus size, coverage `cov:` edges and `ft:` features, crashes/timeouts/OOMs) and
# the campaign a line. A finding (crash, timeout, OOM, leak) keeps its input in
# fuzz/artifacts/<target>/, is counted in STATUS.md, and makes the script exit 1 at the end.
#
# Environment: CARGO_TARGET_DIR is ignored for the fuzz build (it lives in fuzz/target).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ=$ROOT/fuzz
STATUS=$FUZZ/STATUS.md
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR=$FUZZ/target/$TRIPLE/release
unset CARGO_TARGET_DIR

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

mode=${1:-}
[[ -n $mode ]] || usage
shift
runs="" secs=60 jobs=1 malloc_mb=64 save=1 build=1
declare -a targets=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -r) runs=$2; secs=""; shift 2 ;;
        -t) secs=$2; runs=""; shift 2 ;;
        -j) jobs=$2; shift 2 ;;
        -m) malloc_mb=$2; shift 2 ;;
        --no-save) save=0; shift ;;
        --no-build) build=0; shift ;;
        -h | --help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) targets+=("$1"); shift ;;
    esac
done
for v in "$jobs" "$malloc_mb" ${runs:+"$runs"} ${secs:+"$secs"}; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "not a number: $v" >&2; exit 2; }
done

all_targets() { (cd "$FUZZ" && cargo +nightly fuzz list); }

case $mode in
    list) all_targets; exit 0 ;;
    run | replay) ;;
    *) usage ;;
esac

if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(all_targets)
fi
[[ ${#targets[@]} -gt 0 ]] || { echo "ERROR: no fuzz targets" >&2; exit 1; }

if ((build)); then
    (cd "$FUZZ" && cargo +nightly fuzz build -O)
fi

COMMON_FLAGS=(-timeout=2 -malloc_limit_mb="$malloc_mb" -rss_limit_mb=2048 -print_final_stats=1)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/gmsa-fuzz.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
declare -a failed=()

# corpus_dirs T: the committed corpus and seeds of T that exist.
corpus_dirs() {
    local t=$1
    mkdir -p "$FUZZ/corpus/$t"
    echo "$FUZZ/corpus/$t"
    [[ -d $FUZZ/seeds/$t ]] && echo "$FUZZ/seeds/$t"
    return 0
}

if [[ $mode == replay ]]; then
    for t in "${targets[@]}"; do
        mapfile -t dirs < <(corpus_dirs "$t")
        n=$(find "${dirs[@]}" -type f | wc -l)
        echo "---- replay $t ($n inputs)"
        if ! "$BIN_DIR/$t" "${COMMON_FLAGS[@]}" -runs=0 "${dirs[@]}" >"$SCRATCH/$t.log" 2>&1; then
            tail -n 40 "$SCRATCH/$t.log" >&2
            failed+=("$t")
        else
            grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$SCRATCH/$t.log" | tail -n 1 || true
        fi
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "ERROR: replay failed for: ${failed[*]}" >&2
        exit 1
    fi
    exit 0
fi

COMMIT=$(git rev-parse --short=12 HEAD)
[[ -z $(git status --porcelain -- crates fuzz/fuzz_targets fuzz/Cargo.toml) ]] || COMMIT="$COMMIT+dirty"
budget=${runs:+"$runs runs"}${secs:+"$secs s"}
echo "campaign: ${#targets[@]} targets, $budget each, $jobs job(s), malloc_limit_mb=$malloc_mb, commit $COMMIT"

for t in "${targets[@]}"; do
    mapfile -t dirs < <(corpus_dirs "$t")
    work=$SCRATCH/$t.new
    logs=$SCRATCH/$t.logs
    mkdir -p "$work" "$logs" "$FUZZ/artifacts/$t"
    flags=("${COMMON_FLAGS[@]}" -artifact_prefix="$FUZZ/artifacts/$t/")
    if [[ -n $runs ]]; then flags+=(-runs="$runs"); else flags+=(-max_total_time="$secs"); fi
    if ((jobs > 1)); then flags+=(-jobs="$jobs" -workers="$jobs"); fi
    echo "---- $t: $budget"
    touch "$logs/.start"
    set +e
    (cd "$logs" && "$BIN_DIR/$t" "${flags[@]}" "$work" "${dirs[@]}" >"$logs/main.log" 2>&1)
    rc=$?
    set -e
    # With -jobs each job logs to fuzz-<n>.log in the working directory.
    cat "$logs"/*.log >"$SCRATCH/$t.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$SCRATCH/$t.log" | awk '{s += $1} END {print s + 0}')
    # libFuzzer's status lines: "#<n><TAB><EVENT> cov: <edges> ft: <features> ...".
    cov=$({ grep -oE '^#[0-9]+[[:space:]]+[A-Z]+ +cov: [0-9]+ ft: [0-9]+' "$SCRATCH/$t.log" || true; } | tail -n 1 | awk '{print $4, $6}')
    # Findings are counted by the artifacts libFuzzer wrote during this run.
    count() { find "$FUZZ/artifacts/$t" -type f -name "$1-*" -newer "$logs/.start" | wc -l; }
    crashes=$(count crash) timeouts=$(count timeout) ooms=$(count oom) leaks=$(count leak)
    if ((rc != 0 && crashes + timeouts + ooms + leaks == 0)); then
        crashes=1 # the fuzzer failed without an artifact: count it, never hide it
    fi
    if ((rc != 0 || crashes + timeouts + ooms + leaks > 0)); then
        failed+=("$t")
        echo "FINDING in $t (exit $rc); artifacts in fuzz/artifacts/$t/:" >&2
        grep -E 'ERROR: |panicked at|SUMMARY' "$SCRATCH/$t.log" | head -n 20 >&2 || true
    fi
    if ((save)); then
        # Minimise: the smallest set covering the committed corpus, the seeds and the new inputs.
        min=$SCRATCH/$t.min
        mkdir -p "$min"
        "$BIN_DIR/$t" "${COMMON_FLAGS[@]}" -merge=1 "$min" "${dirs[@]}" "$work" >"$SCRATCH/$t.merge.log" 2>&1 || {
            tail -n 20 "$SCRATCH/$t.merge.log" >&2
            failed+=("$t(merge)")
            continue
        }
        find "$FUZZ/corpus/$t" -type f -delete
        cp "$min"/* "$FUZZ/corpus/$t"/ 2>/dev/null || true
        files=$(find "$FUZZ/corpus/$t" -type f | wc -l)
        bytes=$(du -sb "$FUZZ/corpus/$t" | cut -f1)
        # The merge's own coverage figure over the minimised corpus is the steadier one.
        mcov=$({ grep -oE 'MERGE-OUTER: [0-9]+ new files with [0-9]+ new features added; [0-9]+ new coverage edges' "$SCRATCH/$t.merge.log" || true; } | tail -n 1 | awk '{print $11}')
        [[ -n $cov ]] || cov="${mcov:-0} 0"
        python3 "$ROOT/scripts/fuzz_status.py" "$STATUS" target "$t" "$COMMIT" "$execs" "$files" "$bytes" \
            $cov "$crashes" "$timeouts" "$ooms" "$leaks"
    fi
    printf '%s: %s executions, cov %s, crashes %s, timeouts %s, OOMs %s, leaks %s\n' \
        "$t" "$execs" "${cov:-?}" "$crashes" "$timeouts" "$ooms" "$leaks"
    echo "$t $execs" >>"$SCRATCH/campaign"
done

if ((save)); then
    total=$(awk '{s += $2} END {print s + 0}' "$SCRATCH/campaign" 2>/dev/null || echo 0)
    python3 "$ROOT/scripts/fuzz_status.py" "$STATUS" campaign "$COMMIT" "${#targets[@]}" "$budget" \
        "$jobs" "$malloc_mb" "$total" "${#failed[@]}"
fi
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "ERROR: findings in: ${failed[*]}" >&2
    exit 1
fi
