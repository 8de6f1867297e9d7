#!/usr/bin/env python3
"""Twin stand-in of a "fix" that still never deletes: it receives and processes, but the message
comes back (no "Deleted message" line ever appears)."""
import os, sys
sys.path.insert(0, os.environ["TWIN_WORKERS"])
import common

sqs, url = common.client()
common.log("Worker started (looping build)")
while not common.stopping:
    messages = common.receive(sqs, url)
    if messages:
        common.log(f"Received {len(messages)} messages")
    for m in messages:
        common.log(f"Successfully processed {common.object_key(m['Body'])}")
common.log("Worker stopping")
