"""Container entry point: runs the action with the NORTHFLANK_* environment."""

import sys
from pathlib import Path

# The image runs Python isolated (-I), which leaves the script's own folder off sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from northflank_release.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
