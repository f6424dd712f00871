"""Access logs print paths, and the paths of emailed links carry their token
(``/invitation/<token>``, ``/mot-de-passe-perdu/<token>``): the token is cut out of
every line of the dev server's (werkzeug) and gunicorn's access logs."""

from __future__ import annotations

import logging
import re
from typing import Any

#: The path of a link sent by email, up to its token.
_LINK = re.compile(r"(/(?:invitation|mot-de-passe-perdu)/)[^\s/?\"']+")
#: The loggers that print request paths.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(value: Any) -> Any:
    return _LINK.sub(r"\1[jeton]", value) if isinstance(value, str) else value


class LinkTokenFilter(logging.Filter):
    """Replaces the token of an emailed link by ``[jeton]`` in the message and its args."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        if isinstance(record.args, dict):  # in place: gunicorn's atoms are a dict subclass
            for key, value in list(record.args.items()):
                record.args[key] = redact(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(v) for v in record.args)
        return True


def install() -> None:
    """Once per process (idempotent): every app built here shares the loggers."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LinkTokenFilter) for f in logger.filters):
            logger.addFilter(LinkTokenFilter())
