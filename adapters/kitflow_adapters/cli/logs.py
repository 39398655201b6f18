"""Logging of the server processes: uvicorn's own lines, and the app's access log."""

from __future__ import annotations

import copy
from typing import Any

from uvicorn.config import LOGGING_CONFIG


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up plus Kitflow's loggers at INFO: the access log (one JSON line per
    request, ``kitflow.access``) on stdout beside uvicorn's own access stream, the rest on stderr.
    Every worker process applies it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["formatters"]["kitflow"] = {"format": "%(levelname)s: [%(name)s] %(message)s"}
    config["handlers"]["kitflow.access"] = {
        "formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stdout",
    }
    config["handlers"]["kitflow"] = {
        "formatter": "kitflow", "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
    }
    config["loggers"]["kitflow"] = {"handlers": ["kitflow"], "level": "INFO", "propagate": False}
    config["loggers"]["kitflow.access"] = {"handlers": ["kitflow.access"], "level": "INFO", "propagate": False}
    return config
