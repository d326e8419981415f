/**
 * The stock cloud image's check, shared by test/instances/cloud-image.test.ts and bench/cloud-image.ts: user data
 * that prints, each line prefixed with `marker`, the datasource cloud-init chose, the instance id it read and the
 * default user's authorized_keys. cloud-final's output goes to the serial console (GetConsoleOutput).
 */
export function cloudInitReportScript(marker: string): string {
  return [
    '#!/bin/sh',
    `echo "${marker} datasource=$(cloud-init query platform 2>/dev/null)/$(cloud-init query subplatform 2>/dev/null)"`,
    `echo "${marker} instance=$(cloud-init query instance_id 2>/dev/null)"`,
    `sed "s/^/${marker} authorized_keys: /" /home/debian/.ssh/authorized_keys`,
    '',
  ].join('\n');
}
