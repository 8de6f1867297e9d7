#!/usr/bin/env python3
"""Twin stand-in of the BROKEN worker that is loud on its way out: like broken.py it receives and
never deletes, and when systemd stops it (SIGTERM) it logs, before it exits, one line for each of
the runbook's error patterns and success lines. Those lines land in the journal after the install's
restart began and before the new process starts: a canary that counted them would see errors and
"deleted from queue" the fix never wrote (the emulator test of the canary's journal window)."""
import os, sys
sys.path.insert(0, os.environ["TWIN_WORKERS"])
import common

sqs, url = common.client()
common.log("Worker started (broken build, noisy on stop)")
held = []
while not common.stopping:
    held = common.receive(sqs, url)
    for m in held:
        common.log(f"Message {m['MessageId']} processed successfully")
last = held[0]["MessageId"] if held else "none"
common.log(f"ERROR worker interrupted with {len(held)} message(s) in flight")
common.log("Traceback (most recent call last): KeyboardInterrupt-like stop of the old build")
common.log(f"Received {len(held)} messages")
common.log("Successfully processed uploads/old-build.pdf")
common.log(f"Deleted message {last} from queue")
common.log("Worker stopping")
