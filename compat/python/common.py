"""Shared by the boto3 compatibility scripts: a client for the endpoint, and call outcomes as JSON."""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

TEST = ('test', 'test')


def client(endpoint, creds=TEST):
    return boto3.client(
        'ec2',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        config=Config(retries={'total_max_attempts': 1}),
    )


def resource(endpoint, creds=TEST):
    return boto3.resource(
        'ec2',
        endpoint_url=endpoint,
        region_name='us-east-1',
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        config=Config(retries={'total_max_attempts': 1}),
    )


def outcome(call):
    """What a boto3 user sees of one call: the result, or the ClientError's code, message and HTTP status."""
    try:
        result = call()
        meta = result.pop('ResponseMetadata')
        return {
            'ok': True,
            'status': meta['HTTPStatusCode'],
            'requestId': meta.get('RequestId'),
            'headerRequestId': meta['HTTPHeaders'].get('x-amzn-requestid'),
            'result': result,
        }
    except ClientError as e:
        meta = e.response.get('ResponseMetadata', {})
        return {
            'ok': False,
            'code': e.response['Error']['Code'],
            'message': e.response['Error'].get('Message'),
            'status': meta.get('HTTPStatusCode'),
            'requestId': meta.get('RequestId'),
            'headerRequestId': meta.get('HTTPHeaders', {}).get('x-amzn-requestid'),
            'str': str(e),
        }


def emit(value):
    json.dump(value, sys.stdout, default=str)
    sys.stdout.write('\n')


def endpoint():
    if len(sys.argv) < 2:
        sys.exit(f'usage: python3 {sys.argv[0]} <endpoint> [...]')
    return sys.argv[1]
