import sys

from rainbow_tui.cli import main

sys.exit(main())
