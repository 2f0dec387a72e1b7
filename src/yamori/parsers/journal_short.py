"""Journal lines without a time: ``host prog[pid]: message``.

What ``journalctl -o short`` writes once its time column is cut away (``journalctl ... | cut -d' ' -f4-``,
``--output=cat``-like exports, fail2ban's ``sshd-journal`` samples): the host, the program tag with its pid, and
the message. The syslog reader (:mod:`yamori.parsers.syslog`) needs a time and does not accept these lines, so
this text parser (priority 79, asked just before syslog's 80) recognises a file where most of the first lines
have this shape and none has a syslog time, then hands each message to the message parsers through
:meth:`yamori.parsers.syslog.SyslogParser.parse_message` - an sshd line gives the same event as from auth.log.

Lines without a pid (``host prog: message``) are read too once the file is recognised. Events have no
``@timestamp`` (the line has none). Fields: ``host``, ``program``, ``pid``, ``message`` and those of the
message's parser; ``event.module`` is ``journal_short``, ``event.dataset`` the message parser's name.
A line of another shape is a BadRecord.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import ClassVar

from yamori.events import BadRecord
from yamori.parsers.base import Envelope, Family, Malformed, ParseContext, Parsed, TextParser
from yamori.parsers.syslog import SyslogParser, parse_envelope

__all__ = ["JournalShortParser"]

_WITH_PID = re.compile(r"(?P<host>[A-Za-z0-9_][\w.-]*) (?P<prog>[^\s\[\]:]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$",
                       re.DOTALL)
_LINE = re.compile(r"(?P<host>[A-Za-z0-9_][\w.-]*) (?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$",
                   re.DOTALL)


class JournalShortParser(TextParser):
    """``host prog[pid]: message`` lines (the journal's short form without its time)."""

    name = "journal_short"
    family = Family.SYSLOG
    description = "Journal lines without a time (host prog[pid]: message), messages parsed by format"
    logsources = ()
    priority = 79

    SNIFF_SHARE: ClassVar[float] = 0.6

    def __init__(self) -> None:
        self._syslog = SyslogParser()

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        shaped = 0
        for line in lines:
            if _WITH_PID.match(line) is not None:
                if parse_envelope(line, context.reference_time) is not None:
                    return False  # a line with a syslog time: syslog's file
                shaped += 1
        return shaped >= max(1, len(lines) * self.SNIFF_SHARE)

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        for number, line in lines:
            match = _LINE.match(line)
            if match is None:
                yield context.bad(number, "not a 'host program[pid]: message' line", line)
                continue
            envelope = Envelope(host=match["host"], program=match["prog"], pid=match["pid"], line=line)
            try:
                parsed = self._syslog.parse_message(match["msg"], envelope, context)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            parsed.fields["event.module"] = self.name
            parsed.position = str(number)
            parsed.raw = line
            yield parsed


PARSERS = (JournalShortParser(),)
