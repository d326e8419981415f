"""Presigned SigV4 URLs made by botocore (generate_presigned_url), fetched with a plain HTTP GET.

usage: python3 presign.py <endpoint> <second-access-key> <second-secret>
prints {"<case>": {"status": ..., "body": "..."}, ...}
"""
import sys
import urllib.error
import urllib.request

from common import client, emit, endpoint

url = endpoint()
second = (sys.argv[2], sys.argv[3])


def get(u):
    try:
        with urllib.request.urlopen(u, timeout=30) as r:
            return {'status': r.status, 'body': r.read().decode(), 'url': u}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'body': e.read().decode(), 'url': u}


def presign(c, op, params):
    return c.generate_presigned_url(op, Params=params, ExpiresIn=300, HttpMethod='GET')


regions = presign(client(url), 'describe_regions', {'RegionNames': ['us-east-1']})
emit({
    'regions': get(regions),
    # Changing a signed parameter must break the signature.
    'tampered': get(regions.replace('RegionName.1=us-east-1', 'RegionName.1=eu-west-1')),
    # The signature names the account: the second account sees its own default VPC.
    'secondAccount': get(presign(client(url, second), 'describe_account_attributes', {'AttributeNames': ['default-vpc']})),
    'wrongSecret': get(presign(client(url, ('test', 'wrong')), 'describe_regions', {})),
})
