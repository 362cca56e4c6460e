"""Moved to webscale_local.operator_process (tests/support/); this name stays so existing imports keep working."""

import sys

from webscale_local import operator_process

sys.modules[__name__] = operator_process
