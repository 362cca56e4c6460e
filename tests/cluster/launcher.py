"""Moved to webscale_local.launcher (tests/support/); this name stays so existing imports keep working.

python -m webscale_local.launcher up | down      (what `make cluster` runs)
"""

import sys

from webscale_local import launcher

if __name__ == "__main__":
    sys.exit(launcher.main())
sys.modules[__name__] = launcher
