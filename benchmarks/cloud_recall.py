"""CloudTrail recall: which Stratus Red Team detonations of the invictus-ir AWS dataset does Yamori detect?

Reads every file of ../shared/datasets/invictus-ir_aws_dataset/CloudTrail/ with Yamori's readers and parsers
(``read_file``) and matches each event with the real engine against every rule of ../shared/sigma plus
Yamori's own ``rules/``. Events are tied to ``stratus_events.csv`` by ``eventID``:

* **attack events**: csv rows with a ``technique_id_inferred`` (the detonations themselves);
* **set-up/clean-up**: csv rows without one (Stratus's Terraform warm-up and clean-up, same user agent);
* **other**: every event not in the csv (the account's own Terraform set-up and AWS-internal activity).

Printed: a summary (attack events detected, by SigmaHQ and by Yamori rules, misses by reason), recall per
inferred technique, detections per rule split by event kind (detections on set-up/clean-up and other events
are false positives), and one row per attack event with the rules that fired or the reason it was missed:

* ``no rule for <eventName>``: no loaded aws/cloudtrail rule tests ``eventName`` for that value;
* ``condition did not hold: <rules>``: rules for that eventName exist but their other conditions were false;
* ``event not found``: no parsed event carries the csv row's eventID.

Usage: python benchmarks/cloud_recall.py [--rules PATH ...] [--no-events]
(``--rules`` replaces the default rule folders: ../shared/sigma and rules/.)
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, REPO, SIGMA, require_shared, table
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.events import BadRecord
from yamori.parsers.cloudtrail import CLOUDTRAIL as CLOUDTRAIL_LOGSOURCE
from yamori.parsers.registry import all_parsers
from yamori.rules.loader import RuleFile, load_rule_files
from yamori.rules.model import And, Leaf, Node, Not, Or, RuleInfo, StrMatch
from yamori.sources.files import read_file

AWS_DATASET = DATASETS / "invictus-ir_aws_dataset"
CLOUDTRAIL = AWS_DATASET / "CloudTrail"
STRATUS_CSV = AWS_DATASET / "stratus_events.csv"
OWN_RULES = REPO / "rules"


@dataclass(slots=True)
class Seen:
    """One parsed CloudTrail event and the rules that fired on it."""

    event_name: str
    error: str
    where: str
    rules: list[int] = field(default_factory=list)


def _leaves(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from _leaves(item)
    elif isinstance(node, Not):
        yield from _leaves(node.item)


def _accepts(match: StrMatch, value: str) -> bool:
    text = value if match.cased else value.lower()
    for wanted in match.values:
        if ((match.kind == "eq" and text == wanted) or (match.kind == "prefix" and text.startswith(wanted))
                or (match.kind == "suffix" and text.endswith(wanted)) or (match.kind == "contains" and wanted in text)
                or (match.kind == "glob" and re.fullmatch(wanted, text, re.DOTALL))):
            return True
    return match.kind == "any"


class EventNameIndex:
    """Which aws/cloudtrail rules test ``eventName`` for a given value (from the rules' condition trees)."""

    def __init__(self, infos: list[RuleInfo]) -> None:
        self.by_id = {info.id: index for index, info in enumerate(infos)}
        paths = sorted({info.path for info in infos if info.product == "aws"})
        loaded, _ = load_rule_files([RuleFile(path, path=path) for path in paths])
        self.tests: list[tuple[int, list[StrMatch]]] = []
        for rule in loaded.rules:
            matches = [leaf.pred for leaf in _leaves(rule.condition)
                       if leaf.field == "eventName" and isinstance(leaf.pred, StrMatch)]
            if matches and rule.info.id in self.by_id:
                self.tests.append((self.by_id[rule.info.id], matches))

    def rules_for(self, event_name: str) -> list[int]:
        return [index for index, matches in self.tests if any(_accepts(m, event_name) for m in matches)]


def origin(info: RuleInfo) -> str:
    return "Yamori" if Path(info.path).resolve().is_relative_to(OWN_RULES.resolve()) else "SigmaHQ"


def label(info: RuleInfo) -> str:
    return f"{info.title} ({origin(info)})"


def read_events(engine: Engine, files: Iterable[Path]) -> tuple[dict[str, Seen], int, int]:
    seen: dict[str, Seen] = {}
    events = bad = 0
    for path in files:
        for item in read_file(path):
            if isinstance(item, BadRecord):
                bad += 1
                print(f"bad record: {item.source} {item.position}: {item.reason}", file=sys.stderr)
                continue
            events += 1
            fields = item.fields
            event_id = str(fields.get("eventID", f"{item.source}:{item.position}"))
            seen[event_id] = Seen(str(fields.get("eventName", "")), str(fields.get("errorCode") or ""),
                                  f"{Path(item.source).name}:{item.position}", engine.match(item))
    return seen, events, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", nargs="*", type=Path, default=[SIGMA, OWN_RULES])
    parser.add_argument("--no-events", action="store_true", help="leave out the per-event table")
    args = parser.parse_args()
    require_shared()
    ruleset = load_ruleset(args.rules)
    engine = Engine(ruleset)
    infos = engine.infos
    index = EventNameIndex(infos)
    rows = list(csv.DictReader(STRATUS_CSV.open(encoding="utf-8")))
    attack = [row for row in rows if row["technique_id_inferred"]]
    setup_ids = {row["eventID"] for row in rows if not row["technique_id_inferred"]}
    attack_ids = {row["eventID"] for row in attack}

    all_parsers()  # import every format module before timing
    engine.plan(CLOUDTRAIL_LOGSOURCE)  # and build the engine's plan (scanner) for CloudTrail events
    started = time.process_time()
    seen, events, bad = read_events(engine, sorted(CLOUDTRAIL.iterdir()))
    elapsed = time.process_time() - started
    aws_rules = sum(1 for info in infos if info.product == "aws")
    print(f"CloudTrail events: {events}, bad records: {bad}; rules: {len(infos)} ({aws_rules} for AWS); "
          f"read and matched in {elapsed:.2f} CPU s ({events / elapsed:,.0f} events/s)\n")

    per_event: list[list[object]] = []
    by_technique: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    fired_by_technique: dict[tuple[str, str], set[str]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    detected = by_sigma = by_yamori = specific = 0
    for row in attack:
        key = (row["technique_id_inferred"], row["tactic_inferred"])
        by_technique[key]["events"] += 1
        hit = seen.get(row["eventID"])
        if hit is None:
            result, kind = "event not found", "event not found"
        elif hit.rules:
            origins = {origin(infos[i]) for i in hit.rules}
            detected += 1
            by_sigma += "SigmaHQ" in origins
            by_yamori += "Yamori" in origins
            specific += bool(set(hit.rules) & set(index.rules_for(hit.event_name)))
            by_technique[key]["detected"] += 1
            fired_by_technique[key].update(label(infos[i]) for i in hit.rules)
            result, kind = "detected: " + "; ".join(label(infos[i]) for i in hit.rules), "detected"
        else:
            candidates = index.rules_for(hit.event_name)
            if candidates:
                result = "condition did not hold: " + "; ".join(label(infos[i]) for i in candidates)
                kind = "missed: a rule for the eventName exists, its condition did not hold"
            else:
                result, kind = f"no rule for {hit.event_name}", "missed: no rule for the eventName"
        reasons[kind] += 1
        per_event.append([row["technique_id_inferred"], row["eventName"],
                          hit.error if hit else "", row["eventID"][:8], hit.where if hit else "", result])

    total = len(attack)
    print(table(["measure", "attack events", "share"], [
        ["detected (any rule)", detected, f"{detected / total:.1%}"],
        ["detected by a SigmaHQ rule", by_sigma, f"{by_sigma / total:.1%}"],
        ["detected by a Yamori rule", by_yamori, f"{by_yamori / total:.1%}"],
        ["detected by a rule that tests its eventName", specific, f"{specific / total:.1%}"],
        ["detected only by rules without an eventName test (caller identity)", detected - specific,
         f"{(detected - specific) / total:.1%}"],
        *[[kind, count, f"{count / total:.1%}"] for kind, count in sorted(reasons.items()) if kind != "detected"],
        ["attack events in stratus_events.csv", total, "100.0%"],
    ]))
    print()
    print(table(["technique", "tactic", "events", "detected", "recall", "rules that fired"], [
        [technique, tactic, c["events"], c["detected"], f"{c['detected'] / c['events']:.0%}",
         "; ".join(sorted(fired_by_technique[(technique, tactic)])) or "-"]
        for (technique, tactic), c in sorted(by_technique.items())]))

    per_rule: dict[int, Counter[str]] = defaultdict(Counter)
    for event_id, hit in seen.items():
        kind = "attack" if event_id in attack_ids else "setup" if event_id in setup_ids else "other"
        for rule in hit.rules:
            per_rule[rule][kind] += 1
    false_positives = sum(c["setup"] + c["other"] for c in per_rule.values())
    noisy_events = sum(1 for event_id, hit in seen.items() if hit.rules and event_id not in attack_ids)
    print(f"\nDetections per rule (false positives: {false_positives} detections on {noisy_events} events that "
          f"are not attack events, of {events - total})\n")
    print(table(["rule", "level", "attack", "set-up/clean-up (FP)", "other (FP)"], [
        [label(infos[rule]), infos[rule].level, c["attack"], c["setup"], c["other"]]
        for rule, c in sorted(per_rule.items(), key=lambda item: (-item[1]["attack"], infos[item[0]].title))]))
    if not args.no_events:
        print("\nAttack events\n")
        print(table(["technique", "eventName", "errorCode", "eventID", "where", "result"], per_event))


if __name__ == "__main__":
    main()
