// The kernels of @reformer/backend-wasm, compiled by AssemblyScript to WebAssembly with SIMD128
// (and a second time with relaxed SIMD). Every function works on byte offsets into the one memory the
// host imports; the host owns allocation.
export { matmul, matmulScratchBytes } from './matmul';
export { attentionForward, attentionBackward, attentionBackwardPartials, attentionBackwardReduce, attentionScratchBytes } from './attention';
export { softmaxRows, logSumExpRows, layerNormRows, layerNormBackwardRows, crossEntropyRows, crossEntropyBackwardRows } from './rows';
export { binary2d, gatherBlocks, scatterAddBlocks, scatterAddRowRange, unaryFloat, reluBackward, reduceSum, reduceSumRange, reduceSumColumns } from './elementwise';
export { argSortRows, argSortScratchBytes, argMaxFloat, signedArgMaxRows } from './sort';
export { stridedCopy, fill32 } from './layout';
