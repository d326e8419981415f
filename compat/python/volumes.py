"""boto3 driving EBS volumes and snapshots (any backend): one scenario, its observations as one JSON document.

usage: python3 volumes.py <endpoint>    (stdin: {"zone": ..., "instanceId": ...})
boto3's own waiters (volume_available, volume_in_use, snapshot_completed, volume_deleted) poll every second.
"""
import json
import sys

from common import client, emit, endpoint, outcome

url = endpoint()
args = json.load(sys.stdin)
c = client(url)
FAST = {'Delay': 1, 'MaxAttempts': 60}
zone, instance = args['zone'], args['instanceId']

out = {}
out['badSize'] = outcome(lambda: c.create_volume(AvailabilityZone=zone, Size=20000, VolumeType='gp2'))
out['noIops'] = outcome(lambda: c.create_volume(AvailabilityZone=zone, Size=10, VolumeType='io1'))
v = c.create_volume(AvailabilityZone=zone, Size=2, VolumeType='gp3',
                    TagSpecifications=[{'ResourceType': 'volume', 'Tags': [{'Key': 'app', 'Value': 'boto3'}]}])
out['created'] = {k: v.get(k) for k in ('State', 'Size', 'VolumeType', 'Iops', 'Throughput', 'Encrypted')}
vid = v['VolumeId']
c.get_waiter('volume_available').wait(VolumeIds=[vid], WaiterConfig=FAST)
c.attach_volume(VolumeId=vid, InstanceId=instance, Device='/dev/sdf')
c.get_waiter('volume_in_use').wait(VolumeIds=[vid], WaiterConfig=FAST)
out['deleteInUse'] = outcome(lambda: c.delete_volume(VolumeId=vid))
snap = c.create_snapshot(VolumeId=vid, Description='boto3')
c.get_waiter('snapshot_completed').wait(SnapshotIds=[snap['SnapshotId']], WaiterConfig=FAST)
pages = c.get_paginator('describe_snapshots').paginate(OwnerIds=['self'], PaginationConfig={'PageSize': 5})
out['snapshots'] = [s['SnapshotId'] for p in pages for s in p['Snapshots']]
out['snapshotId'] = snap['SnapshotId']
vols = c.get_paginator('describe_volumes').paginate(Filters=[{'Name': 'tag:app', 'Values': ['boto3']}])
out['tagged'] = [x['VolumeId'] for p in vols for x in p['Volumes']]
c.detach_volume(VolumeId=vid)
c.get_waiter('volume_available').wait(VolumeIds=[vid], WaiterConfig=FAST)
restored = c.create_volume(AvailabilityZone=zone, SnapshotId=snap['SnapshotId'])
c.get_waiter('volume_available').wait(VolumeIds=[restored['VolumeId']], WaiterConfig=FAST)
out['restoredSize'] = restored['Size']
for x in (vid, restored['VolumeId']):
    c.delete_volume(VolumeId=x)
c.get_waiter('volume_deleted').wait(VolumeIds=[vid, restored['VolumeId']], WaiterConfig=FAST)
c.delete_snapshot(SnapshotId=snap['SnapshotId'])
out['volumeId'] = vid
emit(out)
