"""A compiled rule set (metadata, generated code, literals) and its on-disk cache.

Two caches under the user cache directory: per rule file (content hash and path → converted rules), so that a
changed file re-parses alone; and per rule set (Yamori version, placeholders, every file's key → compiled set),
so that a warm start only reads the rule files, hashes them and unpickles one file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from yamori import __version__
from yamori.correlation.model import CorrelationRule
from yamori.engine.compiler import CompiledModule, compile_rules
from yamori.engine.prefilter import literal_alternatives
from yamori.paths import cache_dir
from yamori.rules.loader import ParsedFile, RuleFile, iter_rule_files, load_rule_files, readable
from yamori.rules.model import LoadedRules, RuleInfo, RuleProblem


def _code_fingerprint() -> str:
    """A hash of the code that converts and compiles rules: a cache made by other code is never reused."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=8)
    root = Path(__file__).resolve().parent.parent
    for package in ("rules", "engine", "correlation"):
        for source in sorted((root / package).glob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()


@dataclass(slots=True)
class CompiledRuleSet:
    infos: list[RuleInfo]
    module: CompiledModule
    literals: list[str]
    rule_literals: list[tuple[tuple[int, ...], ...]]
    """Per rule, its alternative literal sets (literal ids), best first; empty: evaluate for every event."""
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    from_cache: bool = False
    correlations: list[CorrelationRule] = field(default_factory=list)


def build_ruleset(loaded: LoadedRules) -> CompiledRuleSet:
    literal_ids: dict[str, int] = {}
    rule_literals: list[tuple[tuple[int, ...], ...]] = []
    for rule in loaded.rules:
        rule_literals.append(tuple(
            tuple(literal_ids.setdefault(lit, len(literal_ids)) for lit in sorted(alternative.literals))
            for alternative in literal_alternatives(rule.condition)))
    return CompiledRuleSet(
        infos=[r.info for r in loaded.rules],
        module=compile_rules(loaded.rules),
        literals=list(literal_ids),
        rule_literals=rule_literals,
        problems=list(loaded.problems),
        correlations=list(loaded.correlations),
        files=loaded.files,
    )


def _placeholder_key(placeholders: Mapping[str, Sequence[str]] | None) -> str:
    items = sorted((k, tuple(v)) for k, v in (placeholders or {}).items())
    return hashlib.blake2b(repr(items).encode(), digest_size=8).hexdigest()


def load_ruleset(paths: Iterable[Path], placeholders: Mapping[str, Sequence[str]] | None = None,
                 use_cache: bool = True) -> CompiledRuleSet:
    """Load and compile the rules under ``paths``, from the cache when nothing changed."""
    problems: list[RuleProblem] = []
    base = cache_dir()
    files = list(iter_rule_files(paths, problems))
    index_path = base / "file-index.pickle"
    if use_cache:
        _known_keys(files, _read_pickle(index_path))
    files = readable(files, problems)
    digest = hashlib.blake2b(digest_size=16)
    fingerprint = _code_fingerprint()
    digest.update(f"{fingerprint}:{_placeholder_key(placeholders)}".encode())
    for file in files:
        digest.update(file.key.encode("utf-8", "surrogatepass"))
    set_path = base / f"ruleset-{digest.hexdigest()}.pickle"
    if use_cache:
        cached = _read_pickle(set_path)
        if isinstance(cached, CompiledRuleSet):
            cached.problems = problems + cached.problems
            cached.from_cache = True
            return cached
    parsed_path = base / f"parsed-{fingerprint}-{_placeholder_key(placeholders)}.pickle"
    previous = _read_pickle(parsed_path) if use_cache else None
    loaded, fresh = load_rule_files(files, placeholders, previous if isinstance(previous, dict) else None)
    ruleset = build_ruleset(loaded)
    if use_cache:
        _write_pickle(parsed_path, _merge_parsed(previous, fresh))
        _write_pickle(set_path, ruleset)
        _write_pickle(index_path, _file_index(files))
        _prune(base, keep={set_path, parsed_path})
    ruleset.problems = problems + ruleset.problems
    return ruleset


RACY_SECONDS = 2.0  # a file modified this close to when the index was written is read again (as git does)


def _known_keys(files: list[RuleFile], index: object) -> None:
    """Take each file's key from the index when its size and modification time are unchanged: a warm start
    then needs one stat per file instead of reading and hashing it."""
    if not isinstance(index, dict) or not isinstance(index.get("written"), float):
        return
    trusted_before = int((index["written"] - RACY_SECONDS) * 1e9)
    entries = index.get("files", {})
    for file in files:
        entry = entries.get(file.label)
        if entry is None or file.path is None:
            continue
        try:
            stat = os.stat(file.path)
        except OSError:
            continue
        if (stat.st_size, stat.st_mtime_ns) == entry[:2] and stat.st_mtime_ns < trusted_before:
            file.known_key(entry[2])


def _file_index(files: list[RuleFile]) -> dict[str, object]:
    entries: dict[str, tuple[int, int, str]] = {}
    for file in files:
        if file.path is None:
            continue
        try:
            stat = os.stat(file.path)
        except OSError:
            continue
        entries[file.label] = (stat.st_size, stat.st_mtime_ns, file.key)
    return {"written": time.time(), "files": entries}


def _merge_parsed(previous: object, fresh: dict[str, ParsedFile]) -> dict[str, ParsedFile]:
    merged: dict[str, ParsedFile] = dict(previous) if isinstance(previous, dict) else {}
    merged.update(fresh)
    if len(merged) > 50_000:  # bound the per-file cache: keep what the current set uses
        merged = dict(fresh)
    return merged


def _read_pickle(path: Path) -> object:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def _write_pickle(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _prune(base: Path, keep: set[Path], limit: int = 8) -> None:
    for pattern in ("ruleset-*.pickle", "parsed-*.pickle"):
        found = sorted(base.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[limit:]:
            if old not in keep:
                old.unlink(missing_ok=True)
