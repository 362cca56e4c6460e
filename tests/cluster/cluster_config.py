"""Moved to webscale_local.cluster_config (tests/support/); this name stays so existing imports keep working."""

import sys

from webscale_local import cluster_config

sys.modules[__name__] = cluster_config
