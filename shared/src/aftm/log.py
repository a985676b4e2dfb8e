"""Logging with loguru: one event per line, past tense plus key=value; JSON lines on request."""

from __future__ import annotations

import sys

from loguru import logger

HUMAN_FORMAT = "{time:HH:mm:ss.SSS} {level:<7} {extra[service]} {message}"


def configure(service: str, *, level: str = "INFO", json_lines: bool = False) -> None:
    logger.remove()
    logger.configure(extra={"service": service})
    if json_lines:
        logger.add(sys.stderr, level=level, serialize=True)
    else:
        logger.add(sys.stderr, level=level, format=HUMAN_FORMAT)
