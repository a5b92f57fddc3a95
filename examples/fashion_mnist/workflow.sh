#!/usr/bin/env bash
# The whole ganfix workflow on the Fashion-MNIST example, as docs/your-own-gan.md reports it:
# layers → rank → ablation scan → contact sheets → labels → repair (export + score) → score the export.
# Everything is written under $OUT (default runs/fmnist, git-ignored). Roughly 10 min of CPU (sum of the steps, each measured); 30–60 min wall clock
# on 2 cores shared with other jobs (mostly the ablation scan: 64 units × 1000 samples, and the repair: 7 × 5000).
#
#   bash examples/fashion_mnist/workflow.sh
#
# Needs Debian's dataset-fashion-mnist (the real images) and nothing else: no downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/fmnist}
mkdir -p "$OUT"

G=(examples/fashion_mnist/models.py:generator
   --weights examples/fashion_mnist/assets/dcgan_fmnist.pt --weights-key netG_state_dict)
FEATURES=(--features examples/fashion_mnist/extractor.py:factory)

# Real images: the two disjoint halves of the test set. Half A is used to choose units, half B only
# to report the repair (as are the seed-2 latents, never looked at while labelling).
[ -d "$OUT/real-a" ] || python examples/fashion_mnist/data.py --out "$OUT/real-a" --start 0 --count 5000
[ -d "$OUT/real-b" ] || python examples/fashion_mnist/data.py --out "$OUT/real-b" --start 5000 --count 5000

ganfix layers "${G[@]}"
ganfix rank "${G[@]}" --layer main.5 --samples 2000 --top 20

# ΔFD of each unit ablated alone (1000 samples of seed 0 against half A) + forward selection.
ganfix rank "${G[@]}" --layer main.5 --by ablation "${FEATURES[@]}" --real "$OUT/real-a" \
  --scan-samples 1000 --suggest 12 --top 16

# Contact sheets of all 64 units (open $OUT/sheets/index.html; drop --no-serve for the labelling page).
SET="$OUT/main.5-artifacts.json"
SHEETS=(--layer main.5 --samples 2000 --no-serve --out "$OUT/sheets" --annotations "$SET")
ganfix annotate "${G[@]}" "${SHEETS[@]}"

# The labels we gave after looking at the sheets of the units whose lone ablation lowers FD
# (22 "sneaker soles" and 24 "garment sides and sleeves" were looked at and left out: they draw clothes).
ganfix annotate "${G[@]}" "${SHEETS[@]}" --mark 59 --text "checkerboard dots on garments, bright stripe at the right edge"
ganfix annotate "${G[@]}" "${SHEETS[@]}" --mark 3,36,37 --text "checkerboard dots on garments"
ganfix annotate "${G[@]}" "${SHEETS[@]}" --mark 62 --text "periodic diamonds in the background beside the garment"

# Repair: ablate the 5 units, export, score original vs patched vs 5 random 5-unit ablations
# on the same 5000 latents (seed 2) against half B.
ganfix repair "${G[@]}" --annotations "$SET" --out "$OUT/repair" "${FEATURES[@]}" --real "$OUT/real-b" \
  --samples 5000 --seed 2

# The exported TorchScript needs neither ganfix's hooks nor models.py: same FD as the patched row.
ganfix score "$OUT/repair/export/patched_generator.pt2" "${FEATURES[@]}" --real "$OUT/real-b" --samples 5000 --seed 2
