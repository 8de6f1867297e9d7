"""Shared by the twin's stand-in workers (not the real worker): one SQS client pointed at the twin
through AWS_ENDPOINT_URL (boto3 reads it), the queue from the unit's environment."""
import json
import os
import signal
import sys

import boto3

stopping = False


def _stop(_sig, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, _stop)


def log(line):
    print(line, flush=True)


def client():
    sqs = boto3.client("sqs", region_name=os.environ.get("AWS_REGION", "ap-northeast-1"))
    url = sqs.get_queue_url(QueueName=os.environ["WORKER_QUEUE_NAME"])["QueueUrl"]
    return sqs, url


def object_key(body):
    try:
        return json.loads(body)["Records"][0]["s3"]["object"]["key"]
    except Exception:
        return "(unknown object)"


def receive(sqs, url):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
