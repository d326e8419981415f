import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, type EC2Client } from '@aws-sdk/client-ec2';

/** A security group in `vpcId` named `name`; with `open`, one TCP port admitted from one CIDR. */
export async function securityGroup(ec2: EC2Client, vpcId: string, name: string, open?: { port: number; from: string }): Promise<string> {
  const id = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: name, Description: name }))).GroupId!;
  if (open) {
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: [{ IpProtocol: 'tcp', FromPort: open.port, ToPort: open.port, IpRanges: [{ CidrIp: open.from }] }] }));
  }
  return id;
}
