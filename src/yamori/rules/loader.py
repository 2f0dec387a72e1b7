"""Find Sigma rule files (files, folders, zip archives), parse them with pySigma and convert them to Rules.

A rule that cannot be parsed or evaluated becomes a RuleProblem; it never stops the load. Conversion results
are cached per file content (see ``yamori.rules.cache``) because pySigma's parsing dominates a cold start.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from yamori.exceptions import UnsupportedRuleError
from yamori.rules.model import LoadedRules, Rule, RuleProblem

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.filters import SigmaFilter

    from yamori.correlation.convert import ExtraThresholds
    from yamori.correlation.model import CorrelationRule
    from yamori.rules.convert import Placeholders

# pySigma (and the converter built on it) is imported where rules are parsed, not at start-up: a warm start
# loads compiled rules from the cache and never needs it.

RULE_SUFFIXES = (".yml", ".yaml")
MAX_RULE_FILE = 4 * 1024 * 1024


class RuleFile:
    """One rule file: its label (``archive.zip!member`` for zips), and its bytes, read on first use.

    ``key`` (content hash and label) identifies it in the caches; ``known_key`` lets the caller supply a key
    it trusts without reading (see ``yamori.engine.ruleset``: unchanged size and modification time).
    """

    __slots__ = ("_content", "_key", "label", "path")

    def __init__(self, label: str, content: bytes | None = None, path: str | None = None) -> None:
        self.label = label
        self.path = path
        self._content = content
        self._key: str | None = None

    @property
    def content(self) -> bytes:
        """The file's bytes; raises OSError (or ValueError when larger than MAX_RULE_FILE) when unreadable."""
        if self._content is None:
            assert self.path is not None
            with open(self.path, "rb") as handle:
                content = handle.read(MAX_RULE_FILE + 1)
            if len(content) > MAX_RULE_FILE:
                raise ValueError(f"file larger than {MAX_RULE_FILE} bytes")
            self._content = content
        return self._content

    @property
    def key(self) -> str:
        """Cache key: the content's hash and the label (rule paths are part of what is reported)."""
        if self._key is None:
            self._key = hashlib.blake2b(self.content, digest_size=16).hexdigest() + ":" + self.label
        return self._key

    def known_key(self, key: str) -> None:
        self._key = key


def iter_rule_files(paths: Iterable[Path], problems: list[RuleProblem]) -> Iterator[RuleFile]:
    """Yield rule files found under the given paths, in a stable order; unreadable ones become problems."""
    for path in paths:
        if path.is_dir():
            for file in _walk_rule_files(path):
                yield from _read_one(file, problems)
        elif path.suffix.lower() == ".zip":
            yield from _read_zip(path, problems)
        elif path.exists():
            yield from _read_one(path, problems)
        else:
            problems.append(RuleProblem(str(path), "no such file or folder"))


def _walk_rule_files(root: Path) -> list[str]:
    """Rule files under ``root``, sorted; example-event files (``*.tests.yml``) are not rules."""
    found: list[str] = []
    for folder, _, names in os.walk(root):
        found.extend(os.path.join(folder, name) for name in names
                     if name.lower().endswith(RULE_SUFFIXES) and not name.endswith(".tests.yml"))
    found.sort()
    return found


def _read_one(path: Path | str, problems: list[RuleProblem]) -> Iterator[RuleFile]:
    yield RuleFile(str(path), path=str(path))  # read when needed; see readable()


def readable(files: Iterable[RuleFile], problems: list[RuleProblem]) -> list[RuleFile]:
    """The files whose key can be had (read if needed); the others become problems."""
    kept: list[RuleFile] = []
    for file in files:
        try:
            _ = file.key
        except OSError as exc:
            problems.append(RuleProblem(file.label, f"cannot read: {exc.strerror or exc}"))
        except ValueError as exc:
            problems.append(RuleProblem(file.label, str(exc)))
        else:
            kept.append(file)
    return kept


def _read_zip(path: Path, problems: list[RuleProblem]) -> Iterator[RuleFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                name = info.filename
                if info.is_dir() or not name.lower().endswith(RULE_SUFFIXES) or name.endswith(".tests.yml"):
                    continue
                if info.file_size > MAX_RULE_FILE:
                    problems.append(RuleProblem(f"{path}!{name}", f"member larger than {MAX_RULE_FILE} bytes"))
                    continue
                yield RuleFile(f"{path}!{name}", archive.read(info))
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        problems.append(RuleProblem(str(path), f"cannot read zip: {exc}"))


@dataclass(slots=True)
class ParsedFile:
    """What one rule file yields: converted rules, problems, and whether it holds Sigma meta filters."""

    rules: list[Rule]
    problems: list[RuleProblem]
    has_filters: bool = False
    correlations: list[CorrelationRule] = field(default_factory=list)


def parse_rule_file(file: RuleFile, placeholders: Placeholders | None = None) -> ParsedFile:
    """Parse one file with pySigma and convert every rule in it; filters are reported, applied by the caller."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    parsed = ParsedFile([], [])
    try:
        text = file.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        parsed.problems.append(RuleProblem(file.label, f"not UTF-8: {exc}"))
        return parsed
    extra: ExtraThresholds = {}
    try:
        if "correlation" in text:
            import yaml

            from yamori.correlation.convert import split_range_conditions

            documents = list(yaml.safe_load_all(text))
            extra = split_range_conditions(documents)
            # references are resolved across every loaded file (yamori.correlation.ruleset), not per file
            collection = SigmaCollection.from_dicts(documents, collect_errors=True, collect_filters=True,
                                                    resolve_references=False)
        else:
            collection = SigmaCollection.from_yaml(text, collect_errors=True, collect_filters=True,
                                                   resolve_references=False)
    except (SigmaError, ValueError, TypeError, AttributeError, UnsupportedRuleError) as exc:
        parsed.problems.append(RuleProblem(file.label, f"cannot parse: {exc}"))  # YAML errors too
        return parsed
    except Exception as exc:  # a YAML error in one file must never stop the load
        parsed.problems.append(RuleProblem(file.label, f"cannot parse: {type(exc).__name__}: {exc}"))
        return parsed
    for error in collection.errors:
        parsed.problems.append(RuleProblem(file.label, f"cannot parse: {error}"))
    parsed.has_filters = bool(collection.filters)
    for item in collection.rules:
        _add_rule(parsed, item, file.label, placeholders, extra)
    return parsed


def _add_rule(parsed: ParsedFile, item: object, label: str, placeholders: Placeholders | None,
              extra: ExtraThresholds | None = None) -> None:
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError
    from sigma.rule import SigmaRule

    from yamori.rules.convert import convert_rule

    if isinstance(item, SigmaCorrelationRule):
        _add_correlation(parsed, item, label, extra)
        return
    if not isinstance(item, SigmaRule):
        return
    if item.errors:
        parsed.problems.append(RuleProblem(
            label, "; ".join(str(e) for e in item.errors), str(item.id or ""), item.title or ""))
        return
    try:
        converted = convert_rule(item, label, placeholders)
        spec = item.custom_attributes.get("new_terms")
        if spec is not None:
            from yamori.correlation.convert import new_terms_rule

            parsed.correlations.append(new_terms_rule(converted.info, spec))
        parsed.rules.append(converted)
    except UnsupportedRuleError as exc:
        parsed.problems.append(RuleProblem(label, str(exc), str(item.id or ""), item.title or "", "unsupported"))
    except (SigmaError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        parsed.problems.append(RuleProblem(
            label, f"cannot evaluate: {type(exc).__name__}: {exc}", str(item.id or ""), item.title or ""))


def _add_correlation(parsed: ParsedFile, item: SigmaCorrelationRule, label: str,
                     extra: ExtraThresholds | None) -> None:
    from sigma.exceptions import SigmaError

    from yamori.correlation.convert import convert_correlation

    if item.errors:
        parsed.problems.append(RuleProblem(
            label, "; ".join(str(e) for e in item.errors), str(item.id or ""), item.title or ""))
        return
    try:
        parsed.correlations.append(convert_correlation(item, label, extra))
    except UnsupportedRuleError as exc:
        parsed.problems.append(RuleProblem(label, str(exc), str(item.id or ""), item.title or "", "unsupported"))
    except (SigmaError, ValueError, TypeError, AttributeError, KeyError) as exc:
        parsed.problems.append(RuleProblem(
            label, f"cannot evaluate: {type(exc).__name__}: {exc}", str(item.id or ""), item.title or ""))


def apply_filters(files: Sequence[RuleFile], results: list[ParsedFile],
                  placeholders: Placeholders | None) -> None:
    """Apply every Sigma meta filter of the set to the rules it names, re-parsing the files involved."""
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    filters: list[SigmaFilter] = []
    for file, result in zip(files, results, strict=True):
        if result.has_filters:
            collection = SigmaCollection.from_yaml(file.content.decode("utf-8"), collect_errors=True,
                                                   collect_filters=True, resolve_references=False)
            filters.extend(collection.filters)
    if not filters:
        return
    for index, file in enumerate(files):
        result = results[index]
        if not result.rules:
            continue
        collection = SigmaCollection.from_yaml(file.content.decode("utf-8"), collect_errors=True,
                                               collect_filters=True, resolve_references=False)
        rules = [r for r in collection.rules if isinstance(r, SigmaRule) and not r.errors]
        if not rules:
            continue
        if not any(f._should_apply_on_rule(r) for f in filters for r in rules):
            continue
        fresh = ParsedFile([], list(result.problems), result.has_filters,
                           list(result.correlations))
        for rule in rules:
            for sigma_filter in filters:
                rule = sigma_filter.apply_on_rule(rule)  # type: ignore[assignment]
            _add_rule(fresh, rule, file.label, placeholders)
        results[index] = fresh


def load_rule_files(files: Sequence[RuleFile], placeholders: Placeholders | None = None,
                    cached: Mapping[str, ParsedFile] | None = None) -> tuple[LoadedRules, dict[str, ParsedFile]]:
    """Parse (or take from ``cached``) every file; returns the loaded set and the per-file results to cache."""
    results: list[ParsedFile] = []
    fresh: dict[str, ParsedFile] = {}
    for file in files:
        key = file.key
        hit = cached.get(key) if cached is not None else None
        if hit is None:
            hit = parse_rule_file(file, placeholders)
        fresh[key] = hit
        results.append(hit)
    apply_filters(files, results, placeholders)
    loaded = LoadedRules(files=len(files))
    for result in results:
        loaded.rules.extend(result.rules)
        loaded.problems.extend(result.problems)
        loaded.correlations.extend(result.correlations)
    return loaded, fresh
