"""`python -m bot.admin ...`"""

from __future__ import annotations

import sys

from bot.admin.cli import main

if __name__ == "__main__":
    sys.exit(main())
