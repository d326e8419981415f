"""boto3 driving instances that really run (the docker backend): one step of the scenario per run.

usage: python3 instances.py <endpoint> <step>    (the step's input is a JSON object on stdin)
prints one JSON document: what the step observed. A waiter that gives up, or any unexpected ClientError,
ends the step with a non-zero exit and the error on stderr.

Steps: keypairs, launch, lifecycle, image, paginate, resource (see each function's docstring).
"""
import json
import sys
import time

from botocore.exceptions import WaiterError

from common import client, emit, endpoint, outcome, resource

url = endpoint()
step = sys.argv[2]
args = json.load(sys.stdin)
c = client(url)
# boto3's own waiters, polling every second instead of every 15 s.
FAST = {'Delay': 1, 'MaxAttempts': 120}

# Every request boto3 sends, by operation, with its serialized (wire) parameters.
sent = []
c.meta.events.register('before-call.ec2', lambda model, params, **_: sent.append((model.name, dict(params.get('body') or {}))))


def calls(op):
    return [p for name, p in sent if name == op]


def wait(name, **params):
    """Runs a waiter; returns how many Describe* calls it made (it polls until the state is reached)."""
    waiter = c.get_waiter(name)
    before = len(sent)
    waiter.wait(WaiterConfig=FAST, **params)
    return len(sent) - before


def instances_of(reservations):
    return [i for r in reservations for i in r['Instances']]


def describe(ids):
    return instances_of(c.describe_instances(InstanceIds=ids)['Reservations'])


def keypairs():
    """Creates an RSA key pair, imports an ED25519 public key (twice: the second is a duplicate), and looks up
    a name that does not exist. input: {rsaName, edName, edPublicKey, missingName}"""
    rsa = c.create_key_pair(KeyName=args['rsaName'], KeyType='rsa')
    ed = c.import_key_pair(KeyName=args['edName'], PublicKeyMaterial=args['edPublicKey'].encode())
    again = outcome(lambda: c.import_key_pair(KeyName=args['edName'], PublicKeyMaterial=args['edPublicKey'].encode()))
    missing = outcome(lambda: c.describe_key_pairs(KeyNames=[args['missingName']]))
    described = c.describe_key_pairs(KeyNames=[args['rsaName'], args['edName']], IncludePublicKey=True)['KeyPairs']
    return {
        'rsa': {k: rsa.get(k) for k in ('KeyName', 'KeyPairId', 'KeyFingerprint', 'KeyMaterial')},
        'ed': {k: ed.get(k) for k in ('KeyName', 'KeyPairId', 'KeyFingerprint', 'KeyMaterial')},
        'again': again,
        'missing': missing,
        'described': [{k: p.get(k) for k in ('KeyName', 'KeyPairId', 'KeyType', 'KeyFingerprint', 'PublicKey')} for p in described],
    }


def launch():
    """run_instances with UserData (boto3 base64-encodes it), TagSpecifications, a key and a ClientToken, twice
    with the same token; then the instance_running waiter. input: {imageId, keyName, marker, nameTag, token}"""
    params = dict(
        ImageId=args['imageId'], InstanceType='t3.micro', MinCount=1, MaxCount=1, KeyName=args['keyName'],
        UserData=f"#!/bin/sh\necho {args['marker']}\n",
        TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'Name', 'Value': args['nameTag']}]}],
        ClientToken=args['token'],
    )
    first = c.run_instances(**params)
    second = c.run_instances(**params)
    ids = [i['InstanceId'] for i in first['Instances']]
    polls = wait('instance_running', InstanceIds=ids)
    after = describe(ids)
    return {
        'first': {'reservation': first['ReservationId'], 'ids': ids, 'states': [i['State']['Name'] for i in first['Instances']],
                  'clientToken': first['Instances'][0].get('ClientToken')},
        'second': {'reservation': second['ReservationId'], 'ids': [i['InstanceId'] for i in second['Instances']]},
        'userDataSent': calls('RunInstances')[0]['UserData'],
        'waiterPolls': polls,
        'after': [{'id': i['InstanceId'], 'state': i['State']['Name'], 'key': i.get('KeyName'), 'tags': i.get('Tags', []),
                   'token': i.get('ClientToken')} for i in after],
        'byToken': [i['InstanceId'] for i in instances_of(c.describe_instances(
            Filters=[{'Name': 'client-token', 'Values': [args['token']]}])['Reservations'])],
    }


def lifecycle():
    """The console shows the user data output; stop (instance_stopped), resize, start (instance_running),
    reboot, instance_status_ok. input: {id, marker}"""
    iid = args['id']
    deadline = time.time() + 60
    console = ''
    while time.time() < deadline:
        console = c.get_console_output(InstanceId=iid).get('Output') or ''  # botocore decodes the base64
        if args['marker'] in console:
            break
        time.sleep(1)
    out = {'console': console[-2000:]}
    stop = c.stop_instances(InstanceIds=[iid])['StoppingInstances']
    out['stop'] = [[s['PreviousState']['Name'], s['CurrentState']['Name']] for s in stop]
    out['stoppedPolls'] = wait('instance_stopped', InstanceIds=[iid])
    out['stopped'] = describe([iid])[0]['State']['Name']
    c.modify_instance_attribute(InstanceId=iid, InstanceType={'Value': 't3.small'})
    out['type'] = c.describe_instance_attribute(InstanceId=iid, Attribute='instanceType')['InstanceType']['Value']
    stopped = c.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)['InstanceStatuses']
    out['stoppedStatus'] = [[s['InstanceState']['Name'], s['InstanceStatus']['Status']] for s in stopped]
    start = c.start_instances(InstanceIds=[iid])['StartingInstances']
    out['start'] = [[s['PreviousState']['Name'], s['CurrentState']['Name']] for s in start]
    out['runningPolls'] = wait('instance_running', InstanceIds=[iid])
    i = describe([iid])[0]
    out['running'] = [i['State']['Name'], i['InstanceType']]

    def boots():
        text = c.get_console_output(InstanceId=iid, Latest=True).get('Output') or ''
        return text.count('thecloud-init: instance starting')
    before = boots()
    c.reboot_instances(InstanceIds=[iid])
    deadline = time.time() + 60
    while boots() == before and time.time() < deadline:
        time.sleep(1)
    out['bootsAdded'] = boots() - before
    out['statusPolls'] = wait('instance_status_ok', InstanceIds=[iid])
    st = c.describe_instance_status(InstanceIds=[iid])['InstanceStatuses']
    out['status'] = [[s['InstanceId'], s['InstanceState']['Name'], s['InstanceStatus']['Status'], s['SystemStatus']['Status']] for s in st]
    return out


def image():
    """create_image, the image_available waiter, describe_images(Owners=['self']), deregister_image.
    input: {id, name}"""
    made = c.create_image(InstanceId=args['id'], Name=args['name'], Description='made by boto3')
    image_id = made['ImageId']
    polls = wait('image_available', ImageIds=[image_id])
    mine = c.describe_images(Owners=['self'])['Images']
    c.deregister_image(ImageId=image_id)
    after = c.describe_images(Owners=['self'])['Images']
    return {
        'imageId': image_id,
        'polls': polls,
        'mine': [[i['ImageId'], i['Name'], i['State'], i.get('Description')] for i in mine],
        'afterDeregister': [i['ImageId'] for i in after],
        'byId': outcome(lambda: c.describe_images(ImageIds=[image_id])),
        'instance': describe([args['id']])[0]['State']['Name'],
    }


def paginate():
    """Launches 7 instances (one reservation of 4, three of 1), pages through them with the describe_instances
    paginator (PageSize=5), then terminates them (instance_terminated). input: {imageId, tag}"""
    tags = [{'ResourceType': 'instance', 'Tags': [{'Key': 'batch', 'Value': args['tag']}]}]
    common = dict(ImageId=args['imageId'], InstanceType='t3.nano', TagSpecifications=tags)
    runs = [c.run_instances(MinCount=4, MaxCount=4, **common)] + [c.run_instances(MinCount=1, MaxCount=1, **common) for _ in range(3)]
    launched = {i['InstanceId']: r['ReservationId'] for r in runs for i in r['Instances']}
    before = len(sent)
    paginator = c.get_paginator('describe_instances')
    pages = list(paginator.paginate(Filters=[{'Name': 'tag:batch', 'Values': [args['tag']]}], PaginationConfig={'PageSize': 5}))
    requests = [p for name, p in sent[before:] if name == 'DescribeInstances']
    seen = [[r['ReservationId'], i['InstanceId']] for p in pages for r in p['Reservations'] for i in r['Instances']]
    ids = list(launched)
    wait('instance_running', InstanceIds=ids)
    terminated = c.terminate_instances(InstanceIds=ids)['TerminatingInstances']
    polls = wait('instance_terminated', InstanceIds=ids)
    return {
        'launched': launched,
        'pages': [sum(len(r['Instances']) for r in p['Reservations']) for p in pages],
        'maxResultsSent': [p.get('MaxResults') for p in requests],
        'tokensSent': [p.get('NextToken') is not None for p in requests],
        'seen': seen,
        'terminating': sorted(t['CurrentState']['Name'] for t in terminated),
        'terminatedPolls': polls,
        'final': sorted(i['State']['Name'] for i in describe(ids)),
    }


def resource_api():
    """ec2.Instance(id): .state loads lazily, .reload() refreshes it, .terminate(); then instance_terminated,
    and instance_running on the terminated instance fails at once on its failure acceptor. input: {id}"""
    ec2 = resource(url)
    inst = ec2.Instance(args['id'])
    out = {'state': dict(inst.state), 'type': inst.instance_type, 'tags': inst.tags, 'key': inst.key_name,
           'ip': inst.private_ip_address}
    cached = ec2.Instance(args['id'])
    cached.load()
    result = inst.terminate()
    out['terminate'] = [[t['InstanceId'], t['CurrentState']['Name']] for t in result['TerminatingInstances']]
    out['cachedBeforeReload'] = cached.state['Name']
    inst.reload()
    out['afterReload'] = inst.state['Name']
    out['terminatedPolls'] = wait('instance_terminated', InstanceIds=[args['id']])
    cached.reload()
    out['final'] = dict(cached.state)
    started = time.time()
    try:
        c.get_waiter('instance_running').wait(InstanceIds=[args['id']], WaiterConfig={'Delay': 5, 'MaxAttempts': 10})
        out['runningWaiter'] = 'succeeded'
    except WaiterError as e:
        out['runningWaiter'] = str(e)
    out['runningWaiterSeconds'] = time.time() - started
    return out


steps = {'keypairs': keypairs, 'launch': launch, 'lifecycle': lifecycle, 'image': image, 'paginate': paginate, 'resource': resource_api}
if step not in steps:
    sys.exit(f'unknown step {step}; one of {", ".join(steps)}')
emit(steps[step]())
