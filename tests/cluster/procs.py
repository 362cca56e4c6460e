"""Moved to webscale_local.procs (tests/support/); this name stays so existing imports keep working."""

import sys

from webscale_local import procs

sys.modules[__name__] = procs
