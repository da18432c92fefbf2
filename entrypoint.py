"""Container entry point: runs the action with the NORTHFLANK_* environment."""

import sys

from northflank_release.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
