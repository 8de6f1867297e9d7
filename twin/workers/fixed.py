#!/usr/bin/env python3
"""Twin stand-in of the runbook's FIXED worker: logs the runbook's three success lines and deletes
each message it processed."""
import os, sys
sys.path.insert(0, os.environ["TWIN_WORKERS"])
import common

sqs, url = common.client()
common.log("Worker started (fixed build)")
while not common.stopping:
    messages = common.receive(sqs, url)
    if messages:
        common.log(f"Received {len(messages)} messages")
    for m in messages:
        common.log(f"Successfully processed {common.object_key(m['Body'])}")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        common.log(f"Deleted message {m['MessageId']} from queue")
common.log("Worker stopping")
