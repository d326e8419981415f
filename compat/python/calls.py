"""Runs a batch of boto3 client calls, in order, and prints each outcome.

stdin:  [{"id": "...", "op": "describe_vpcs", "params": {...}, "creds": ["akid", "secret"]}, ...]
stdout: {"<id>": <outcome>, ...}   (see common.outcome)
"""
import json
import sys

from common import client, emit, endpoint, outcome

url = endpoint()
clients = {}
results = {}
for call in json.load(sys.stdin):
    creds = tuple(call.get('creds') or ('test', 'test'))
    c = clients.setdefault(creds, client(url, creds))
    method = getattr(c, call['op'])
    results[call['id']] = outcome(lambda: method(**call.get('params', {})))
emit(results)
