from __future__ import annotations

import sys

from decorr_af.cli import main

sys.exit(main())
