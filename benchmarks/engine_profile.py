"""Engine-only cost per event on the shared EVTX files, for profiling under callgrind (instruction counts).

Loads the rules (warm cache), parses the shared EVTX events once (kept in a pickle beside the rule cache),
warms the engine (two passes: every plan built and calibrated), then runs ``--passes`` more passes inside one
``functools.reduce`` call, so that callgrind can count only those:

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
        .venv/bin/python benchmarks/engine_profile.py --rules windows --passes 2

Without valgrind it prints engine-only events per CPU-second (best of the passes), candidates per event and
a checksum of the matches (equal before and after an optimization). Usage:
python benchmarks/engine_profile.py [--rules windows|all] [--passes N] [--settle] [--events FILE]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, SIGMA, require_shared
from yamori.events import BadRecord, Event
from yamori.paths import cache_dir
from yamori.sources.files import read_file


def shared_events(path: Path | None) -> list[Event]:
    """The events of every shared EVTX file, parsed once and then read from a pickle."""
    store = path or cache_dir() / "engine-profile-events.pickle"
    try:
        with store.open("rb") as handle:
            events: list[Event] = pickle.load(handle)
        return events
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    events = [e for f in sorted(DATASETS.rglob("*.evtx")) for e in read_file(f) if not isinstance(e, BadRecord)]
    store.parent.mkdir(parents=True, exist_ok=True)
    with store.open("wb") as handle:
        pickle.dump(events, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", choices=("windows", "all"), default="windows")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--events", type=Path, default=None)
    parser.add_argument("--settle", action="store_true",
                        help="end every plan's calibration after the warm-up (the state of a long run)")
    args = parser.parse_args()
    require_shared()

    from yamori.engine.matcher import Engine
    from yamori.engine.ruleset import load_ruleset

    events = shared_events(args.events)
    ruleset = load_ruleset([SIGMA / "rules" / "windows" if args.rules == "windows" else SIGMA])
    engine = Engine(ruleset)
    digest = hashlib.blake2b(digest_size=8)
    for _ in range(2):
        for event in events:
            engine.match(event)
    if args.settle:
        for plan in engine._plans.values():
            if plan.hits is not None:
                plan.rebuild_at = plan.events
                engine._calibrate(plan)
    for event in events:
        digest.update(repr(engine.match(event)).encode())
    stats = engine.stats
    stats.events = stats.candidates = 0
    best = float("inf")

    def one_pass(_: object, __: object) -> None:
        nonlocal best
        match = engine.match
        started = time.process_time()
        for event in events:
            match(event)
        best = min(best, time.process_time() - started)

    functools.reduce(one_pass, range(args.passes), None)  # calls one_pass ``passes`` times
    print(f"{args.rules} rules: {len(ruleset.infos)}; events {len(events)} x {args.passes} passes; "
          f"candidates/event {stats.candidates / max(1, stats.events):.2f}; matches checksum {digest.hexdigest()}")
    print(f"engine only, 1 core: {len(events) / best:,.0f} events/s (best pass)")


if __name__ == "__main__":
    main()
