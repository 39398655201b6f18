"""Logging of the server processes: uvicorn's own lines, and the app's access log."""

from __future__ import annotations

import copy
from typing import Any

from uvicorn.config import LOGGING_CONFIG


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up, plus Kitflow's loggers at INFO on stderr. Every worker applies it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["handlers"]["kitflow"] = {"formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["loggers"]["kitflow"] = {"handlers": ["kitflow"], "level": "INFO", "propagate": False}
    config["loggers"]["kitflow_adapters"] = {"handlers": ["kitflow"], "level": "INFO", "propagate": False}
    return config
