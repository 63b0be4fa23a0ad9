export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './layout.js';
export * from './matmul.js';
export * from './fused.js';
export * from './move.js';
