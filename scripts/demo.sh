#!/usr/bin/env bash
# The main job on the embedded task: RevGrad vs source-only on MNIST -> MNIST-M, then the report.
# Extra arguments go to `dabench run`, e.g.: bash scripts/demo.sh --seeds 0,1,2
source "$(dirname "$0")/venv.sh"
"$VENV/bin/dabench" run mnist5k-to-mnistm5k "$@"
"$VENV/bin/dabench" report
