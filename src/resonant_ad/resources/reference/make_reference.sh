#!/usr/bin/env bash
# Regenerate the bundled reference dataset, the files next to this script
# (src/resonant_ad/resources/reference/), with `resonant-ad simulate`.
#
#   src/resonant_ad/resources/reference/make_reference.sh               # the bundled files, bit for bit
#   src/resonant_ad/resources/reference/make_reference.sh full [CACHE]  # an LHCO-scale version into CACHE
#
# Needs the simulate extra: pip install 'resonant-ad[simulate]' (pythia8mc==8.317.2, fastjet).
# WORKERS (default 1) sets the number of processes; the output does not depend on it: shard i
# (1000 selected events) is generated with a Pythia seed derived from (--seed, i) only.
# Runs are sharded and resumable: run the same command again after an interruption.
set -euo pipefail

RAD=${RAD:-resonant-ad}
WORKERS=${WORKERS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${1:-bundled}

# Counts of the bundled files. The background and extra-SR runs were started with
# --events 1000000 and stopped by wall-clock budget; these counts are the finished shards
# (a run cut short equals a run of that many events: shards do not depend on the total).
BACKGROUND_EVENTS=52000
SIGNAL_EVENTS=20000
EXTRA_SR_EVENTS=7000

if [[ "$MODE" == "bundled" ]]; then
    OUT=$HERE
    "$RAD" simulate --process qcd --events "$BACKGROUND_EVENTS" --seed 1 \
        --workers "$WORKERS" --out "$OUT/background.h5"
    "$RAD" simulate --process signal --events "$SIGNAL_EVENTS" --seed 2 \
        --mass-resonance 3500 --mass-x 500 --mass-y 100 --prongs-x 2 \
        --workers "$WORKERS" --out "$OUT/signal.h5"
    "$RAD" simulate --process qcd --mjj-window 3.3 3.7 --events "$EXTRA_SR_EVENTS" --seed 3 \
        --workers "$WORKERS" --out "$OUT/extra_sr_background.h5"
elif [[ "$MODE" == "full" ]]; then
    # LHCO R&D scale: 1M background, 100k signal, 600k extra SR background. With the same
    # seeds, the first shards are the bundled files' events. CPU time per selected event
    # recorded when the bundled files were made: 30 ms (background), 7.3 ms (signal), 99 ms
    # (extra SR background); so about 8.3 CPU hours for the background (and as much again for
    # the --tune sim copy), 12 CPU minutes per signal file, 17 CPU hours for the extra SR
    # background. Set WORKERS to the cores you have.
    OUT=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/resonant-ad/lhco-scale}
    mkdir -p "$OUT"
    "$RAD" simulate --process qcd --events 1000000 --seed 1 \
        --workers "$WORKERS" --out "$OUT/background.h5"
    "$RAD" simulate --process signal --events 100000 --seed 2 \
        --workers "$WORKERS" --out "$OUT/signal.h5"
    "$RAD" simulate --process signal --events 100000 --seed 4 --prongs-x 3 \
        --workers "$WORKERS" --out "$OUT/signal_3prong.h5"
    "$RAD" simulate --process qcd --mjj-window 3.3 3.7 --events 600000 --seed 3 \
        --workers "$WORKERS" --out "$OUT/extra_sr_background.h5"
    "$RAD" simulate --process qcd --tune sim --events 1000000 --seed 5 \
        --workers "$WORKERS" --out "$OUT/background_sim.h5"
else
    echo "usage: $0 [bundled | full [CACHE_DIR]]" >&2
    exit 2
fi
