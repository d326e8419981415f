/**
 * A Describe* action that is "ids + Filters + paging over one describe-engine resource, each row rendered": the
 * shape of most of them (DescribeVpcs, DescribeVolumes, DescribeNatGateways ...). Declared here once, so that
 * every such action validates its ids and filters before DryRun the same way and pages the same way; an action
 * that needs more (DescribeInstances' reservations, DescribeSecurityGroups' GroupNames) is written out by hand.
 *
 *   export const describeVpcs = describeAction('DescribeVpcs', {
 *     resource: vpcResource, idKind: 'vpc', ids: (i) => i.VpcIds, list: 'Vpcs', render: toVpc,
 *   });
 */
import type * as Ec2 from '../protocol/generated/types.js';
import type { Operations, OperationName } from '../protocol/generated/types.js';
import { streamed } from '../protocol/serializer.js';
import { validateRequest, type Resource } from '../describe/index.js';
import type { Sql } from '../describe/sql.js';
import type { IdKind } from '../ids/index.js';
import { defineHandler, type Handler, type RequestContext } from '../server/registry.js';
import { describeRequest, parseIds } from './common.js';

type Input<Op extends OperationName> = Operations[Op]['input'];
type ListKey<Op extends OperationName> = Exclude<keyof Operations[Op]['output'], 'NextToken'> & string;

export interface DescribeAction<Op extends OperationName, Row> {
  resource: Resource<Row>;
  /** The kind of the ids the request selects by (malformed ones are refused before anything is read). */
  idKind: IdKind;
  ids: (input: Input<Op>) => string[] | undefined;
  /** The output member that lists the rows. */
  list: ListKey<Op>;
  render: (row: Row, ctx: RequestContext) => unknown;
  /** Where the request's filters are, when not in `Filters` (DescribeNatGateways calls them `Filter`). */
  filters?: (input: Input<Op>) => Ec2.Filter[] | undefined;
  /** More checks of the request (validate, so DryRun is refused alike). */
  check?: (input: Input<Op>, ctx: RequestContext) => void;
  /** More conditions from the request (DescribeSnapshots' OwnerIds), applied before ids are checked. */
  where?: (input: Input<Op>, ctx: RequestContext) => Sql | undefined;
  /** Run before the rows are read (DescribeDhcpOptions makes the account's default set first). */
  prepare?: (ctx: RequestContext) => Promise<void>;
}

export function describeAction<Op extends OperationName, Row>(operation: Op, spec: DescribeAction<Op, Row>): Handler<Op, void> {
  const request = (input: Input<Op>, ids: string[] | undefined) => {
    const paging = input as { Filters?: Ec2.Filter[]; MaxResults?: number; NextToken?: string };
    return describeRequest({ ...paging, Filters: spec.filters ? spec.filters(input) : paging.Filters }, ids);
  };
  return defineHandler(operation, {
    validate(input, ctx) {
      validateRequest(spec.resource, request(input, parseIds(spec.idKind, spec.ids(input))));
      spec.check?.(input, ctx);
    },
    async handle(input, ctx) {
      await spec.prepare?.(ctx);
      const where = spec.where?.(input, ctx);
      const page = await ctx.services.describe.page(spec.resource, request(input, spec.ids(input)), ctx, where ? { where } : {});
      const out = { [spec.list]: streamed(page.rows, (rows) => rows.map((r) => spec.render(r, ctx))), NextToken: page.nextToken };
      return out as unknown as Operations[Op]['output'];
    },
  });
}
