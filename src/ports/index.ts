export * from './compute.js';
export * from './storage.js';
export * from './network.js';
export * from './host-files.js';
