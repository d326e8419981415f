"""boto3's DescribeTags paginator over the tags whose key starts with a prefix.

usage: python3 paginate.py <endpoint> <key-prefix>
prints {"pages": [page sizes], "items": ["<resource-id> <key>", ...], "maxResultsSent": [...],
        "firstPart": [...], "resumeToken": "...", "secondPart": [...]}
"""
import sys

from common import client, emit, endpoint

url = endpoint()
prefix = sys.argv[2]
c = client(url)
sent = []
c.meta.events.register('before-parameter-build.ec2.DescribeTags', lambda params, **_: sent.append(params.get('MaxResults')))

filters = [{'Name': 'key', 'Values': [prefix + '*']}]
paginator = c.get_paginator('describe_tags')
pages = list(paginator.paginate(Filters=filters, PaginationConfig={'PageSize': 5}))
items = [f"{t['ResourceId']} {t['Key']}" for p in pages for t in p['Tags']]

# MaxItems stops part-way through a page; StartingToken resumes exactly there.
first = paginator.paginate(Filters=filters, PaginationConfig={'PageSize': 5, 'MaxItems': 7}).build_full_result()
second = paginator.paginate(
    Filters=filters, PaginationConfig={'PageSize': 5, 'StartingToken': first.get('NextToken')}
).build_full_result()

emit({
    'pages': [len(p['Tags']) for p in pages],
    'items': items,
    'maxResultsSent': sent[: len(pages)],
    'firstPart': [f"{t['ResourceId']} {t['Key']}" for t in first['Tags']],
    'resumeToken': first.get('NextToken'),
    'secondPart': [f"{t['ResourceId']} {t['Key']}" for t in second['Tags']],
    'secondNextToken': second.get('NextToken'),
})
