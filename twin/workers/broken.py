#!/usr/bin/env python3
"""Twin stand-in of the runbook's BROKEN worker: receives, says it processed each message, and
never deletes it, so every message comes back after the visibility timeout (the incident)."""
import os, sys
sys.path.insert(0, os.environ["TWIN_WORKERS"])
import common

sqs, url = common.client()
common.log("Worker started (broken build)")
while not common.stopping:
    for m in common.receive(sqs, url):
        common.log(f"Message {m['MessageId']} processed successfully")
common.log("Worker stopping")
