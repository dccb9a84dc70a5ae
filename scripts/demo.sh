#!/usr/bin/env bash
# The whole pipeline on synthetic corpora: corpora -> build (with simulated annotators in a real
# Label Studio) -> validated dataset -> the model, its ablations and baselines over 3 seeds -> report.
# Called by `make demo` after the environment exists. Usage: scripts/demo.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-demo-output}"
BIN=.venv/bin
SEEDS="${DEMO_SEEDS:-0,1,2}"
mkdir -p "$OUT"
start=$(date +%s)
# Bold step headers on a terminal only: `make demo > demo.log` gets plain lines.
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s== [%4ds] %s%s\n' "$BOLD" "$(( $(date +%s) - start ))" "$*" "$PLAIN"; }

step "Label Studio (local server, its own virtualenv)"
bash scripts/labelstudio.sh start
trap 'bash scripts/labelstudio.sh stop >/dev/null 2>&1 || true' EXIT

step "Synthetic IEMOCAP and CMU-MOSEI corpora (profile demo, seed 0)"
if [ -f "$OUT/corpora/synth_truth.json" ]; then
  echo "reusing $OUT/corpora"
else
  "$BIN/edu-data" synth "$OUT/corpora" --profile demo --seed 0
fi

step "Build: ingest -> annotate -> pull -> aggregate -> split -> features -> publish"
"$BIN/edu-data" build pipelines/demo.yaml \
  --iemocap "$OUT/corpora/IEMOCAP_full_release" \
  --mosei "$OUT/corpora/CMU_MOSEI" \
  --out "$OUT/build"

step "Validate the dataset"
"$BIN/edu-data" validate "$OUT/build/dataset"

step "Train Edu-EmotionNet, its ablations and baselines (seeds $SEEDS, CPU)"
"$BIN/edu-data" experiments model/configs/suite_demo.yaml \
  --set "data=$OUT/build/dataset" --out "$OUT/runs" --seeds "$SEEDS"

step "Report: Tables I-III and Figures 3-6"
"$BIN/edu-data" report "$OUT/runs" --out "$OUT/report" --truth "$OUT/corpora/synth_truth.json"

step "Done in $(( $(date +%s) - start )) s"
cat <<DONE
  corpora        $OUT/corpora            (synthetic, with synth_truth.json)
  manifest       $OUT/build/manifest/    (sessions.parquet, report.md: the funnel)
  annotation     $OUT/build/annotation/  (annotations.parquet, labels.parquet, agreement/)
  dataset        $OUT/build/dataset/     (load with datasets.load_dataset)
  runs           $OUT/runs/
  report         $OUT/report/report.md

The Label Studio server stops with this script (its projects and votes stay in .labelstudio/data).
To look at the campaign again, start it and ask for the campaign's status:
  make labelstudio-start            # or: bash scripts/labelstudio.sh start (prints the URL)
  $BIN/edu-data annotate status pipelines/demo.yaml --out $OUT/build
  make labelstudio-stop
Why a session was kept or dropped:  $BIN/edu-data sessions --out $OUT/build --status gap
                                    $BIN/edu-data why SESSION_ID --out $OUT/build
DONE
