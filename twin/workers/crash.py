#!/usr/bin/env python3
"""Twin stand-in of a fix that dies at start (a bad import): systemd's Restart=on-failure turns
it into a crash loop."""
import os, sys
sys.path.insert(0, os.environ["TWIN_WORKERS"])
import common  # noqa: F401

raise RuntimeError("configuration key 'queue_url' missing")
