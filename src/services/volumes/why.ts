import { StorageCapacityError } from '../../ports/storage.js';
import { errorText } from '../../errors/text.js';

/** What a record's state message says of a host failure. */
export const why = (e: unknown) => (e instanceof StorageCapacityError ? 'Insufficient capacity on the storage host' : errorText(e));
