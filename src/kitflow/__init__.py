"""Kitflow: the order-management core for remote-patient-monitoring logistics.

The core is pure: it imports the standard library and msgspec only. ``kitflow.domain`` holds the
entities, values, errors and ports; ``kitflow.services`` the use cases; ``kitflow.testing`` public
Hypothesis strategies.
"""

__version__ = "0.1.0"
