"""``python -m agent_adapter``: the same as the ``agent-adapter`` command."""

import sys

from .cli import main

sys.exit(main())
