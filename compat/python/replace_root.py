"""boto3 following a CreateReplaceRootVolumeTask (any backend) until it has finished.

usage: python3 replace_root.py <endpoint>    (stdin: {"taskId": ..., "instanceId": ...})
Prints the task as DescribeReplaceRootVolumeTasks gives it once succeeded or failed, and the task ids its
instance-id filter lists.
"""
import json
import sys
import time

from common import client, emit, endpoint

url = endpoint()
args = json.load(sys.stdin)
c = client(url)
for _ in range(900):
    task = c.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[args['taskId']])['ReplaceRootVolumeTasks'][0]
    if task['TaskState'] in ('succeeded', 'failed'):
        break
    time.sleep(1)
listed = c.describe_replace_root_volume_tasks(Filters=[{'Name': 'instance-id', 'Values': [args['instanceId']]}])
emit({'task': task, 'listed': [t['ReplaceRootVolumeTaskId'] for t in listed['ReplaceRootVolumeTasks']]})
