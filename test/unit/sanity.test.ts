import assert from 'node:assert/strict';
import { assertSafeName } from '../../src/adapters/exec/index.js';

describe('exec: safe names', () => {
  it('accepts ids and rejects shell metacharacters and option-like names', () => {
    assert.equal(assertSafeName('container', 'i-0123456789abcdef0'), 'i-0123456789abcdef0');
    assert.throws(() => assertSafeName('container', 'a;rm -rf /'));
    assert.throws(() => assertSafeName('container', '-rf'));
    assert.throws(() => assertSafeName('container', ''));
  });
});
