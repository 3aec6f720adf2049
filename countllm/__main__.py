"""`python -m countllm` is the `countllm` command."""

import sys

from countllm.cli import main

sys.exit(main())
