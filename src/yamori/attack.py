"""MITRE ATT&CK names from Sigma tags (``attack.<tactic>``, ``attack.tNNNN[.NNN]``)."""

from __future__ import annotations

import functools
import re

TACTICS: dict[str, str] = {
    "reconnaissance": "Reconnaissance",
    "resource-development": "Resource Development",
    "initial-access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege-escalation": "Privilege Escalation",
    "stealth": "Stealth",  # ATT&CK v18 split Defense Evasion into Stealth and Defense Impairment
    "defense-impairment": "Defense Impairment",
    "defense-evasion": "Defense Evasion",
    "credential-access": "Credential Access",
    "discovery": "Discovery",
    "lateral-movement": "Lateral Movement",
    "collection": "Collection",
    "command-and-control": "Command and Control",
    "exfiltration": "Exfiltration",
    "impact": "Impact",
}
TACTIC_ORDER = {slug: index for index, slug in enumerate(TACTICS)}
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")


@functools.lru_cache(maxsize=8192)
def tactics(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tactic names in kill-chain order."""
    slugs = {t.split(".", 1)[1].replace("_", "-") for t in tags if t.lower().startswith("attack.")}
    return tuple(TACTICS[s] for s in sorted(slugs & TACTICS.keys(), key=TACTIC_ORDER.__getitem__))


@functools.lru_cache(maxsize=8192)
def techniques(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Technique ids (``T1059.001``) in tag order."""
    out: list[str] = []
    for tag in tags:
        lowered = tag.lower()
        if lowered.startswith("attack."):
            name = lowered[7:]
            if _TECHNIQUE.match(name) and name.upper() not in out:
                out.append(name.upper())
    return tuple(out)


def parent_technique(technique: str) -> str:
    return technique.split(".", 1)[0]
