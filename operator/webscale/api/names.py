"""Which names a ScaledWebApp may have: every child name the operator derives from it must be valid.

The app's name becomes Service names (``<name>``, ``<name>-pods`` and the load-balancer
tier's ``<name>-haproxy...``): each must be a DNS-1035 label of at most 63 characters. It
also names the app's Deployment, whose pods Kubernetes names
``<name>-<pod-template-hash, up to 10>-<5 random>``; the API server truncates a generated
name's base beyond 58 characters, and a truncated pod name no longer carries the app's
name (``metrics.cpuSource: cadvisor`` maps pods to apps by it). So the longest name is 46.

The CRD checks the name with CEL at admission (`NAME_RULES`); `name_errors` says the same for
an object stored before that rule existed.
"""

from __future__ import annotations

import re

DNS_LABEL_MAX = 63
"""Longest DNS-1035 label (a Service name)."""
LONGEST_CHILD_SUFFIX = "-haproxy"
"""The longest suffix the operator appends to the app's name for a child object."""
GENERATED_BASE_MAX = 58
"""The API server keeps at most this many characters of a generateName (63 minus 5 random)."""
POD_NAME_PADDING = len("-") + 10 + len("-")
"""What a Deployment adds before a pod's random suffix: "-<pod-template-hash>-"."""
MAX_NAME_LENGTH = min(DNS_LABEL_MAX - len(LONGEST_CHILD_SUFFIX), GENERATED_BASE_MAX - POD_NAME_PADDING)
"""The longest ScaledWebApp name: 46."""
DNS_1035_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

LENGTH_MESSAGE = (
    f"metadata.name must be at most {MAX_NAME_LENGTH} characters: it names the app's Services "
    f"(<name>, <name>-pods, <name>{LONGEST_CHILD_SUFFIX}) and Deployment, and pod names "
    f"<name>-<hash>-<suffix> must not be truncated"
)
FORMAT_MESSAGE = (
    "metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter "
    "and ending with a letter or digit, e.g. shop-2): it names the app's Services"
)

NAME_RULES = [
    {"rule": f"self.metadata.name.size() <= {MAX_NAME_LENGTH}", "message": LENGTH_MESSAGE},
    {"rule": f"self.metadata.name.matches('{DNS_1035_PATTERN}')", "message": FORMAT_MESSAGE},
]
"""CEL rules on the root of the ScaledWebApp schema (the API server refuses a bad name)."""

_DNS_1035 = re.compile(DNS_1035_PATTERN)


def name_errors(name: str) -> list[str]:
    """Why `name` cannot be a ScaledWebApp's name; empty when it can."""
    errors = []
    if len(name) > MAX_NAME_LENGTH:
        errors.append(f"{LENGTH_MESSAGE} (it has {len(name)})")
    if not _DNS_1035.fullmatch(name):
        errors.append(FORMAT_MESSAGE)
    return errors
