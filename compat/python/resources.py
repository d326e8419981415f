"""boto3's resource layer and waiters on the default VPC (tags it; does not otherwise change it).

usage: python3 resources.py <endpoint>
Asserts in Python; exits non-zero with a message on the first failure, prints {"ok": true, ...} otherwise.
"""
from botocore.exceptions import WaiterError

from common import client, emit, endpoint, resource

url = endpoint()
ec2 = resource(url)
c = client(url)


def check(cond, message):
    if not cond:
        raise SystemExit(f'FAILED: {message}')


default = list(ec2.vpcs.filter(Filters=[{'Name': 'is-default', 'Values': ['true']}]))
check(len(default) == 1, f'one default VPC, got {default}')
vpc = default[0]
check(vpc.cidr_block == '172.31.0.0/16', f'cidr_block {vpc.cidr_block}')
check(vpc.is_default is True, 'is_default')

subnets = sorted(vpc.subnets.all(), key=lambda s: s.availability_zone)
check([s.availability_zone for s in subnets] == ['us-east-1a', 'us-east-1b', 'us-east-1c'], 'three subnets, one per zone')
groups = list(vpc.security_groups.filter(GroupNames=['default']))
check(len(groups) == 1 and groups[0].group_name == 'default', f'default group, got {groups}')

vpc.create_tags(Tags=[{'Key': 'Name', 'Value': 'boto3-res'}])
vpc.reload()
check({'Key': 'Name', 'Value': 'boto3-res'} in (vpc.tags or []), f'tags after create_tags: {vpc.tags}')
found = [v.id for v in ec2.vpcs.filter(Filters=[{'Name': 'tag:Name', 'Values': ['boto3-res']}])]
check(found == [vpc.id], f'filter by tag: {found}')
subnet = ec2.Subnet(subnets[0].id)
check(subnet.vpc_id == vpc.id and subnet.state == 'available', 'Subnet(id) loads')

# Waiters poll Describe* until a state is reached; these are reached at once.
c.get_waiter('vpc_available').wait(VpcIds=[vpc.id], WaiterConfig={'Delay': 1, 'MaxAttempts': 2})
c.get_waiter('vpc_exists').wait(VpcIds=[vpc.id], WaiterConfig={'Delay': 1, 'MaxAttempts': 2})
c.get_waiter('subnet_available').wait(SubnetIds=[s.id for s in subnets], WaiterConfig={'Delay': 1, 'MaxAttempts': 2})
c.get_waiter('security_group_exists').wait(GroupIds=[groups[0].id], WaiterConfig={'Delay': 1, 'MaxAttempts': 2})

# vpc_exists retries on InvalidVpcID.NotFound, then gives up with that error as its last response.
try:
    c.get_waiter('vpc_exists').wait(VpcIds=['vpc-0123456789abcdef0'], WaiterConfig={'Delay': 1, 'MaxAttempts': 2})
    check(False, 'vpc_exists on a missing VPC should fail')
except WaiterError as e:
    code = e.last_response.get('Error', {}).get('Code')
    check(code == 'InvalidVpcID.NotFound', f'waiter last error {code}')

emit({'ok': True, 'vpc': vpc.id, 'subnets': [s.id for s in subnets], 'group': groups[0].id})
