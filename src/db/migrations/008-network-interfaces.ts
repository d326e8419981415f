import type { QueryInterface } from 'sequelize';

/**
 * VPCs as real networks (issue 9): each VPC gets a stored VXLAN network identifier (unique per installation)
 * and its DNS attributes; ENIs become records that own the IP allocations (ip_allocations.owner_id is the ENI
 * id). Existing live instances get the ENI their record already named (eni_id, mac_address, private_ip), and
 * their addresses move to it.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE SEQUENCE vpc_vni_seq MINVALUE 1 MAXVALUE 16777215;
    ALTER TABLE vpcs
      ADD COLUMN vni integer NOT NULL DEFAULT nextval('vpc_vni_seq') UNIQUE,
      ADD COLUMN enable_dns_support boolean NOT NULL DEFAULT true,
      ADD COLUMN enable_dns_hostnames boolean NOT NULL DEFAULT false;
    UPDATE vpcs SET enable_dns_hostnames = true WHERE is_default;
    CREATE TABLE network_interfaces (
      id                text PRIMARY KEY,
      account_id        char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id            text NOT NULL REFERENCES vpcs(id),
      subnet_id         text NOT NULL REFERENCES subnets(id),
      availability_zone text NOT NULL,
      mac_address       text NOT NULL UNIQUE,
      description       text NOT NULL DEFAULT '',
      source_dest_check boolean NOT NULL DEFAULT true,
      security_group_ids text[] NOT NULL DEFAULT '{}',
      interface_type    text NOT NULL DEFAULT 'interface',
      -- The attachment: the instance it is plugged into and at which device index (none: available).
      instance_id       text,
      device_index      integer,
      attachment_id     text,
      delete_on_termination boolean NOT NULL DEFAULT true,
      attached_at       timestamptz,
      created_at        timestamptz NOT NULL DEFAULT now(),
      UNIQUE (instance_id, device_index)
    );
    CREATE INDEX network_interfaces_account ON network_interfaces (account_id, id);
    CREATE INDEX network_interfaces_instance ON network_interfaces (instance_id);
    INSERT INTO network_interfaces (id, account_id, vpc_id, subnet_id, availability_zone, mac_address, security_group_ids,
        instance_id, device_index, attachment_id, attached_at)
      SELECT eni_id, account_id, vpc_id, subnet_id, availability_zone, mac_address, security_group_ids,
        id, 0, 'eni-attach-' || substr(md5(eni_id), 1, 17), launch_time
      FROM instances WHERE state <> 'terminated';
    UPDATE ip_allocations a SET owner_id = i.eni_id FROM instances i WHERE a.owner_id = i.id;
    UPDATE instances SET steps_done = array_replace(steps_done, 'address', 'eni');
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    UPDATE ip_allocations a SET owner_id = n.instance_id FROM network_interfaces n WHERE a.owner_id = n.id AND n.instance_id IS NOT NULL;
    UPDATE instances SET steps_done = array_replace(steps_done, 'eni', 'address');
    DROP TABLE network_interfaces;
    ALTER TABLE vpcs DROP COLUMN vni, DROP COLUMN enable_dns_support, DROP COLUMN enable_dns_hostnames;
    DROP SEQUENCE vpc_vni_seq;
  `);
}
