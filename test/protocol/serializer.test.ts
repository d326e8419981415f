import assert from 'node:assert/strict';
import { serializeResult, serializeError, escapeXml } from '../../src/protocol/serializer.js';

describe('protocol: XML serializer', () => {
  it('writes wire names in the model member order, <item> lists, empty lists and timestamps (golden)', () => {
    const xml = serializeResult(
      'DescribeKeyPairs',
      'DescribeKeyPairsResult',
      { KeyPairs: [{ KeyPairId: 'key-0123456789abcdef0', KeyName: 'a<b&c', Tags: [], CreateTime: new Date('2026-01-02T03:04:05Z') }] },
      'req-1',
    );
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?><DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
        '<requestId>req-1</requestId><keySet><item><keyPairId>key-0123456789abcdef0</keyPairId><tagSet/>' +
        '<createTime>2026-01-02T03:04:05.000Z</createTime><keyName>a&lt;b&amp;c</keyName></item></keySet></DescribeKeyPairsResponse>',
    );
  });

  it('writes booleans, numbers and nested structures, and skips absent members', () => {
    const xml = serializeResult('StopInstances', 'StopInstancesResult', { StoppingInstances: [{ InstanceId: 'i-1', CurrentState: { Code: 64, Name: 'stopping' }, PreviousState: undefined }] }, 'r');
    assert.match(xml, /<instancesSet><item><instanceId>i-1<\/instanceId><currentState><code>64<\/code><name>stopping<\/name><\/currentState><\/item><\/instancesSet>/);
    assert.ok(!xml.includes('previousState'));
  });

  it('escapes text and replaces characters XML cannot hold', () => {
    assert.equal(escapeXml('a&b<c>d\re\u0001f'), 'a&amp;b&lt;c&gt;d&#xD;e\ufffdf');
    assert.equal(
      serializeError('InvalidParameterValue', 'bad <value>', 'r-1'),
      '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad &lt;value&gt;</Message></Error></Errors><RequestID>r-1</RequestID></Response>',
    );
  });
});
